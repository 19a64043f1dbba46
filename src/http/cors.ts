import type { IncomingHttpHeaders } from 'node:http';
import koaCors from '@koa/cors';
import type Koa from 'koa';

/** The CORS headers for one request, or undefined when its origin is not allowed (or absent). */
export type CorsPolicy = (method: string, headers: IncomingHttpHeaders) => Record<string, string> | undefined;

const METHODS = 'GET, POST, OPTIONS';
const MAX_AGE = '86400';

/**
 * Who may call from other sites (`cors.origins`: `*` or a list), the one rule of both paths.
 * Credentials are allowed for listed origins so that session-binding cookies travel; `*` echoes
 * the origin without them.
 */
function corsRule(origins: string[]): { allows(origin: string | undefined): origin is string; credentials: boolean } {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return {
    allows: (origin): origin is string => !!origin && (any || allowed.has(origin.toLowerCase())),
    credentials: !any,
  };
}

/**
 * The rule for the protocol path, which answers on Node's request without Koa (src/http/app.ts),
 * so it writes the headers itself. A preflight (`OPTIONS`) gets the allowed methods and headers.
 */
export function corsPolicy(origins: string[]): CorsPolicy {
  const rule = corsRule(origins);
  return (method, headers) => {
    const origin = headers.origin;
    if (!rule.allows(origin)) return undefined;
    const out: Record<string, string> = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (rule.credentials) out['Access-Control-Allow-Credentials'] = 'true';
    if (method === 'OPTIONS') {
      out['Access-Control-Allow-Methods'] = METHODS;
      out['Access-Control-Allow-Headers'] = (headers['access-control-request-headers'] as string | undefined) || 'Content-Type';
      out['Access-Control-Max-Age'] = MAX_AGE;
    }
    return out;
  };
}

/** The same rule for the paths Koa serves (files, health, metrics), through @koa/cors. */
export function cors(origins: string[]): Koa.Middleware {
  const rule = corsRule(origins);
  return koaCors({
    origin: (ctx) => {
      const origin = ctx.get('Origin');
      return rule.allows(origin) ? origin : '';
    },
    credentials: rule.credentials,
    allowMethods: METHODS,
    maxAge: MAX_AGE,
  });
}
