import type Koa from 'koa';

/**
 * CORS for pages on other origins (`cors.origins`: `*` or a list). Credentials are allowed for
 * listed origins so that session-binding cookies travel; `*` echoes the origin without them.
 */
export function cors(origins: string[]): Koa.Middleware {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return async (ctx, next) => {
    const origin = ctx.get('origin');
    if (!origin || (!any && !allowed.has(origin.toLowerCase()))) return next();
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.vary('Origin');
    if (!any) ctx.set('Access-Control-Allow-Credentials', 'true');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', ctx.get('access-control-request-headers') || 'Content-Type');
      ctx.set('Access-Control-Max-Age', '86400');
      ctx.status = 204;
      return;
    }
    return next();
  };
}
