/**
 * The server under test, in its own process so its RSS and CPU are measured apart from the load
 * generator. Forked by proc.ts with one JSON argument ({ kind, overrides }); talks over IPC.
 * Kinds: the pushlet server, bare node:http (bare.ts), the node:net prototype (net-bare.ts).
 */
import type { AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { RedisStore, createServer, loadConfig, storeSettings, type Store } from '../src/index';
import { createBareServer } from './bare';
import { NetBare } from './net-bare';
import type { FromServer, ServerSpec, ToServer } from './proc';

/** The Redis store, made as the server would make it from the same settings. */
async function redisStore(url: string, overrides: ServerSpec['overrides']): Promise<Store> {
  const c = loadConfig({ env: {}, overrides });
  return RedisStore.connect({ ...storeSettings(c), url, socketTimeoutMs: c.redisSocketto });
}

async function start(spec: ServerSpec): Promise<{ url: string; close: () => Promise<void> }> {
  if (spec.kind === 'bare') {
    const http = createBareServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const close = () => new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
    return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, close };
  }
  if (spec.kind === 'net') {
    const net = new NetBare();
    return { url: `http://127.0.0.1:${await net.listen(0, '127.0.0.1')}`, close: () => net.close() };
  }
  const store = spec.redisUrl ? await redisStore(spec.redisUrl, spec.overrides) : undefined;
  const server = createServer({ env: {}, overrides: spec.overrides, store });
  return { url: await server.listen(0, '127.0.0.1'), close: () => server.close() };
}

function send(m: FromServer): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ServerSpec;
  const server = await start(spec);
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: ToServer) => {
    if (m.type === 'stats') {
      // Twice: the first pass may only schedule finalizers whose memory the second frees.
      if (m.gc && gc) { gc(); gc(); }
      const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
      send({ type: 'stats', rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, young, cpu: process.cpuUsage() });
    } else if (m.type === 'stop') {
      // A normal exit writes the --cpu-prof profile.
      void server.close().finally(() => process.exit(0));
    }
  });
  // The bench process died: do not linger.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url: server.url });
}

main().catch((err: Error) => {
  send({ type: 'failed', message: err.message });
  process.exit(1);
});
