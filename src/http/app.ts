import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { clientAddress, proxyTrust } from './address';
import { cors, corsPolicy } from './cors';
import type { Metrics } from './metrics';
import { protocolHandler, type ProtocolDeps, type RequestTarget } from './protocol';
import { isBundledClient, normalizeContext, staticFiles } from './static';

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

/** The HTTP side of a server: the listener of its own port, and the ways into another application. */
export interface Http {
  /** The request listener of the server's own port. */
  listener: RequestListener;
  /**
   * For another `http.Server`: the protocol (paths under `prefix` ending in `/pushlet.srv`) and
   * the bundled clients (`<prefix>/lib/*`, `<prefix>/js/*`); every other request goes to `others`.
   */
  mount(prefix: string, others: RequestListener): RequestListener;
  /** The same as Koa middleware; `ready` is awaited before each protocol request (it starts the server). */
  koa(prefix: string, ready: () => Promise<void>): Koa.Middleware;
}

const PROTOCOL_SUFFIX = '/pushlet.srv';

/** The extra headers of a request without CORS: one object for all of them. */
const NO_HEADERS: Record<string, string> = Object.freeze({});

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

/** Whether `path` is below `context` (`` for the root). */
function under(path: string, context: string): boolean {
  return context === '' || path.startsWith(context + '/');
}

/**
 * The protocol is handled on Node's request and response directly, in every mode: it is the hot
 * path (thousands of held requests and refresh cycles per second), and Koa's per-request
 * context, middleware chain and finish tracking cost CPU per cycle and memory per held request.
 * Everything else goes through Koa: health, readiness and metrics, then the bundled clients, the
 * demo and an old webapp's pages.
 */
export function createHttp(opts: AppOptions): Http {
  const trust = proxyTrust(opts.trustProxy);
  const policy = opts.corsOrigins.length ? corsPolicy(opts.corsOrigins) : undefined;
  const handler = protocolHandler(opts.protocol);
  const onKoaError = (err: Error & { code?: string }) => {
    // A client that went away mid-response is normal for long polls and large files.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    opts.protocol.log.warn({ err }, 'http error');
  };

  function protocol(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const headers = policy?.(req.method ?? 'GET', req.headers) ?? NO_HEADERS;
    if (req.method === 'OPTIONS' && headers['Access-Control-Allow-Origin']) {
      res.writeHead(204, headers).end();
      return Promise.resolve();
    }
    const target: RequestTarget = { path, query, address: clientAddress(req, trust), headers };
    return handler(req, res, target).catch((err: unknown) => {
      opts.protocol.log.error({ err }, 'protocol request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  }

  function site(): RequestListener {
    const app = new Koa({ proxy: trust.all });
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
    if (opts.corsOrigins.length) app.use(cors(opts.corsOrigins));
    app.use(router.routes());
    app.use(staticFiles({ context: opts.context, webappDir: opts.webappDir }));
    app.on('error', onKoaError);
    const koa = app.callback();
    return (req, res) => {
      const { path, query } = splitTarget(req.url ?? '/');
      if (path.endsWith(PROTOCOL_SUFFIX)) void protocol(req, res, path, query);
      else void koa(req, res);
    };
  }

  return {
    listener: site(),

    mount(prefix, others) {
      const context = normalizeContext(prefix);
      const app = new Koa({ proxy: trust.all });
      app.use(staticFiles({ context, clientsOnly: true }));
      app.on('error', onKoaError);
      const clients = app.callback();
      return (req, res) => {
        const { path, query } = splitTarget(req.url ?? '/');
        if (!under(path, context)) return others(req, res);
        if (path.endsWith(PROTOCOL_SUFFIX)) return void protocol(req, res, path, query);
        const [folder, name, deeper] = path.slice(context.length + 1).split('/');
        // Only what is there, so that the application keeps its own paths, 404s included.
        if ((folder === 'lib' || folder === 'js') && deeper === undefined && isBundledClient(name)) return void clients(req, res);
        others(req, res);
      };
    },

    koa(prefix, ready) {
      const context = normalizeContext(prefix);
      const clients = staticFiles({ context, clientsOnly: true });
      return async (ctx, next) => {
        if (!under(ctx.path, context)) return next();
        if (!ctx.path.endsWith(PROTOCOL_SUFFIX)) return clients(ctx, next);
        await ready();
        // The answer is written on Node's response, as on our own port; Koa leaves it alone.
        ctx.respond = false;
        await protocol(ctx.req, ctx.res, ctx.path, ctx.querystring);
      };
    },
  };
}
