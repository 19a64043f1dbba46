import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { clientAddress, proxyTrust } from './address';
import { cors, corsPolicy, type CorsPolicy } from './cors';
import type { Metrics } from './metrics';
import { protocolHandler, type ProtocolDeps, type RequestTarget } from './protocol';
import { staticFiles } from './static';

export interface AppOptions {
  protocol: ProtocolDeps;
  context: string;
  corsOrigins: string[];
  /** `proxy.trust`: false, true, or the proxies' addresses and ranges. */
  trustProxy: string[];
  metrics: Metrics;
  /** An old web application's page folder, served under the context before the bundled files. */
  webappDir?: string;
}

const PROTOCOL_SUFFIX = '/pushlet.srv';

/** Path and query of a request target; an absolute-form target (`GET http://host/p?q`) too. */
function splitTarget(url: string): { path: string; query: string } {
  const rel = url.startsWith('/') ? url : absolutePath(url);
  const q = rel.indexOf('?');
  return q < 0 ? { path: rel, query: '' } : { path: rel.slice(0, q), query: rel.slice(q + 1) };
}

function absolutePath(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/**
 * The server's request listener. Every path ending in `/pushlet.srv` is the protocol, handled on
 * Node's request and response directly: it is the hot path (thousands of held requests and
 * refresh cycles per second), and Koa's per-request context, middleware chain and finish
 * tracking cost CPU per cycle and memory per held request. Everything else goes through Koa:
 * health, readiness and metrics, then the bundled clients, the demo and an old webapp's pages.
 */
export function createApp(opts: AppOptions): RequestListener {
  const trust = proxyTrust(opts.trustProxy);
  const app = new Koa({ proxy: trust.all });
  const policy: CorsPolicy | undefined = opts.corsOrigins.length ? corsPolicy(opts.corsOrigins) : undefined;
  const protocol = protocolHandler(opts.protocol);
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    try {
      await opts.protocol.store.ping();
      ctx.body = { status: 'ready' };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: (err as Error).message };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = opts.metrics.registry.contentType;
    ctx.body = await opts.metrics.text();
  });

  if (policy) app.use(cors(policy));
  app.use(router.routes());
  app.use(staticFiles({ context: opts.context, webappDir: opts.webappDir }));
  app.on('error', (err: Error & { code?: string }) => {
    // A client that went away mid-response is normal for long polls.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    opts.protocol.log.warn({ err }, 'http error');
  });
  const koa = app.callback();

  return (req: IncomingMessage, res: ServerResponse) => {
    const { path, query } = splitTarget(req.url ?? '/');
    if (!path.endsWith(PROTOCOL_SUFFIX)) {
      void koa(req, res);
      return;
    }
    const headers = policy?.(req.method ?? 'GET', req.headers) ?? {};
    if (req.method === 'OPTIONS' && headers['Access-Control-Allow-Origin']) {
      res.writeHead(204, headers).end();
      return;
    }
    const target: RequestTarget = { path, query, address: clientAddress(req, trust), headers };
    protocol(req, res, target).catch((err: unknown) => {
      opts.protocol.log.error({ err }, 'protocol request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
}
