import Redis from 'ioredis';
import { createServer, type PushletServer, type ServerOptions } from '../../src/index';

/** Settings that make timing-dependent behaviour quick in tests. */
export const FAST: Record<string, string | number | boolean> = {
  'log.level': 0,
  'sources.activate': false,
  'queue.read.timeout.millis': 300,
  'pull.refresh.wait.min.millis': 10,
  'pull.refresh.wait.max.millis': 20,
  'poll.refresh.wait.min.millis': 10,
  'poll.refresh.wait.max.millis': 20,
};

export interface Running {
  server: PushletServer;
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  base: string;
  /** The protocol endpoint under the default context. */
  srv: string;
}

/**
 * The store the suites run on: `npm test` runs the integration and conformance suites once on
 * the embedded store and once more with PUSHLET_TEST_STORE=redis (same tests, both stores).
 */
export function storeOverrides(): Record<string, string> {
  if (process.env.PUSHLET_TEST_STORE !== 'redis') return {};
  const url = process.env.PUSHLET_TEST_REDIS_URL;
  if (!url) throw new Error('PUSHLET_TEST_STORE=redis needs PUSHLET_TEST_REDIS_URL (npm test sets both)');
  return { 'redis.url': url };
}

/** Starts a server on a free loopback port with FAST settings plus `overrides`. */
export async function startServer(overrides: ServerOptions['overrides'] = {}, opts: Omit<ServerOptions, 'overrides'> = {}): Promise<Running> {
  const store = opts.store ? {} : storeOverrides();
  const server = createServer({ env: {}, ...opts, overrides: { ...FAST, ...store, ...overrides } });
  const base = await server.listen(0, '127.0.0.1');
  return { server, base, srv: `${base}${server.config.context}/pushlet.srv` };
}

/**
 * A server whose store holds nothing else: on Redis, an emptied database of its own (the shared
 * one holds other suites' sessions, which would count against limit.sessions).
 */
export async function isolatedServer(overrides: ServerOptions['overrides'] = {}): Promise<Running> {
  const redisUrl = storeOverrides()['redis.url'];
  if (!redisUrl) return startServer(overrides);
  const u = new URL(redisUrl);
  u.pathname = '/11';
  const r = new Redis(u.toString());
  await r.flushdb();
  r.disconnect();
  return startServer({ ...overrides, 'redis.url': u.toString() });
}
