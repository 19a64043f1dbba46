import Koa from 'koa';
import Router from '@koa/router';
import { cors } from './cors';
import type { Metrics } from './metrics';
import { protocolHandler, type ProtocolDeps } from './protocol';
import { staticFiles } from './static';

export interface AppOptions {
  protocol: ProtocolDeps;
  context: string;
  corsOrigins: string[];
  trustProxy: boolean;
  metrics: Metrics;
  /** An old web application's page folder, served under the context before the bundled files. */
  webappDir?: string;
}

/**
 * The Koa application: every path ending in `/pushlet.srv` is the protocol; then health,
 * readiness and metrics; then the bundled clients, the demo and an old webapp's pages.
 */
export function createApp(opts: AppOptions): Koa {
  const app = new Koa({ proxy: opts.trustProxy });
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
    ctx.body = await opts.metrics.registry.metrics();
  });

  if (opts.corsOrigins.length) app.use(cors(opts.corsOrigins));
  app.use(async (ctx, next) => {
    if (ctx.path.endsWith('/pushlet.srv')) return protocol(ctx, next);
    return next();
  });
  app.use(router.routes());
  app.use(staticFiles({ context: opts.context, webappDir: opts.webappDir }));
  app.on('error', (err: Error & { code?: string }) => {
    // A client that went away mid-response is normal for long polls.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    opts.protocol.log.warn({ err }, 'http error');
  });
  return app;
}
