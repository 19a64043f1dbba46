import Koa from 'koa';
import Router from '@koa/router';
import { cors } from './cors';
import type { Metrics } from './metrics';
import { protocolHandler, type ProtocolDeps } from './protocol';

export interface AppOptions {
  protocol: ProtocolDeps;
  context: string;
  corsOrigins: string[];
  trustProxy: boolean;
  metrics: Metrics;
  /** Further middleware (static files, metrics) mounted after the protocol endpoint. */
  extra?: Koa.Middleware[];
}

const ROOT_PAGE = (context: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>pushlet-server</title></head>
<body><h1>pushlet-server</h1>
<p>A Pushlets protocol server. The protocol endpoint is <code>${context}/pushlet.srv</code>
(any path ending in <code>/pushlet.srv</code> works too).</p>
<p>Try: <code>curl '${context}/pushlet.srv?p_event=join&amp;p_format=xml'</code></p>
</body></html>
`;

/** The Koa application: every path ending in `/pushlet.srv` is the protocol; then the rest. */
export function createApp(opts: AppOptions): Koa {
  const app = new Koa({ proxy: opts.trustProxy });
  const protocol = protocolHandler(opts.protocol);
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    try {
      await opts.protocol.store.getSession('\u0000ready-probe');
      ctx.body = { status: 'ready' };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: (err as Error).message };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = opts.metrics.registry.contentType;
    ctx.body = await opts.metrics.registry.metrics();
  });

  if (opts.corsOrigins.length) app.use(cors(opts.corsOrigins));
  app.use(async (ctx, next) => {
    if (ctx.path.endsWith('/pushlet.srv')) return protocol(ctx, next);
    return next();
  });
  app.use(router.routes());
  for (const m of opts.extra ?? []) app.use(m);
  app.use(async (ctx, next) => {
    await next();
    if (ctx.status === 404 && ctx.body === undefined && (ctx.path === '/' || ctx.path === opts.context || ctx.path === opts.context + '/')) {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = ROOT_PAGE(opts.context);
    }
  });
  app.on('error', (err: Error & { code?: string }) => {
    // A client that went away mid-response is normal for long polls.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    opts.protocol.log.warn({ err }, 'http error');
  });
  return app;
}
