import type { IncomingHttpHeaders } from 'node:http';
import type Koa from 'koa';

/** The CORS headers for one request, or undefined when its origin is not allowed (or absent). */
export type CorsPolicy = (method: string, headers: IncomingHttpHeaders) => Record<string, string> | undefined;

/**
 * CORS for pages on other origins (`cors.origins`: `*` or a list). Credentials are allowed for
 * listed origins so that session-binding cookies travel; `*` echoes the origin without them.
 * A preflight (`OPTIONS`) gets the allowed methods and headers too.
 */
export function corsPolicy(origins: string[]): CorsPolicy {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (method, headers) => {
    const origin = headers.origin;
    if (!origin || (!any && !allowed.has(origin.toLowerCase()))) return undefined;
    const out: Record<string, string> = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (!any) out['Access-Control-Allow-Credentials'] = 'true';
    if (method === 'OPTIONS') {
      out['Access-Control-Allow-Methods'] = 'GET, POST, OPTIONS';
      out['Access-Control-Allow-Headers'] = (headers['access-control-request-headers'] as string | undefined) || 'Content-Type';
      out['Access-Control-Max-Age'] = '86400';
    }
    return out;
  };
}

/** The policy as Koa middleware, for the non-protocol paths; a preflight is answered 204 here. */
export function cors(policy: CorsPolicy): Koa.Middleware {
  return async (ctx, next) => {
    const headers = policy(ctx.method, ctx.req.headers);
    if (!headers) return next();
    for (const [k, v] of Object.entries(headers)) {
      if (k === 'Vary') ctx.vary(v);
      else ctx.set(k, v);
    }
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    return next();
  };
}
