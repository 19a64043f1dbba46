/** Helpers of the Redis tests: the test Redis, private redis-server children, key dumps. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { freePort } from '../support/net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis';

/** The Redis the test command started (`npm test` exports it). */
export function testRedisUrl(): string {
  const url = process.env.PUSHLET_TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'PUSHLET_TEST_REDIS_URL is not set: run the tests with `npm test`, or start a redis-server and ' +
        'export PUSHLET_TEST_REDIS_URL=redis://127.0.0.1:<port>',
    );
  }
  return url;
}

/**
 * The database these tests own on the test Redis, so that flushing it and aging every session in
 * it leaves other suites alone.
 */
export const TEST_DB = 9;

export function storeUrl(base = testRedisUrl(), db = TEST_DB): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A plain client on the tests' database: what "a Java node" or an inspector uses. */
export function rawClient(url = storeUrl()): Redis {
  const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  // A test that stops its server sees the failures in the commands it sends.
  r.on('error', () => undefined);
  return r;
}

export function storeOptions(over: Partial<RedisStoreOptions> = {}): RedisStoreOptions {
  return { url: storeUrl(), pageSize: 100, socketTimeoutMs: 2000, ...over };
}

export function connectStore(over: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  return RedisStore.connect(storeOptions(over));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export interface KeyDump {
  type: string;
  /** hash: field -> value; list: items head first; zset: member -> score; string: [value]. */
  value: Record<string, string> | string[];
}

/** Every `p:*` key of the database, as the reference dumps show them. */
export async function dumpKeys(r: Redis): Promise<Map<string, KeyDump>> {
  const out = new Map<string, KeyDump>();
  for (const key of (await r.keys('p:*')).sort()) {
    const type = await r.type(key);
    if (type === 'hash') out.set(key, { type, value: await r.hgetall(key) });
    else if (type === 'list') out.set(key, { type, value: await r.lrange(key, 0, -1) });
    else if (type === 'zset') {
      const flat = await r.zrange(key, 0, '-1', 'WITHSCORES');
      const value: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) value[flat[i]] = flat[i + 1];
      out.set(key, { type, value });
    } else out.set(key, { type, value: [String(await r.get(key))] });
  }
  return out;
}

/** Decodes one redis-cli quoted string (`"a\"b\xe4\xbd\xa0"`) to its UTF-8 text. */
export function unquoteCli(q: string): string {
  const bytes: number[] = [];
  const body = q.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      const n = body[++i];
      if (n === 'x') {
        bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(...Buffer.from(simple[n] ?? n, 'utf8'));
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Reads a reference dump of /work/shared/reference/java-redis (the same shape as dumpKeys). */
export function readJavaDump(file: string): Map<string, KeyDump> {
  const out = new Map<string, KeyDump>();
  let current: { key: string; type: string; items: string[] } | null = null;
  const flush = () => {
    if (!current) return;
    const { key, type, items } = current;
    if (type === 'list') out.set(key, { type, value: items });
    else {
      const value: Record<string, string> = {};
      for (let i = 0; i < items.length; i += 2) value[items[i]] = items[i + 1];
      out.set(key, { type, value });
    }
  };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const head = /^== KEY (.*?)\s+TYPE (\w+)/.exec(line);
    if (head) {
      flush();
      current = { key: head[1], type: head[2], items: [] };
      continue;
    }
    const item = /^\s*\d+\) (".*")$/.exec(line);
    if (item && current) current.items.push(unquoteCli(item[1]));
  }
  flush();
  return out;
}

/** A reference dump of java-redis/, by file name without `.txt`. */
export function javaDump(name: string): Map<string, KeyDump> {
  return readJavaDump(path.join(JAVA_REDIS, `${name}.txt`));
}

/** Fields we add to p:ss (Java ignores unknown fields). */
const OUR_FIELDS = new Set(['lastSeen', 'lastAged', 'ownTimeToLive']);
/** Values that are times: compared as plausible ms, not equal. */
const TIME_FIELDS = new Set(['createDate']);

function isMs(v: string): boolean {
  return /^\d{13}$/.test(v);
}

/** Every key of ours equals Java's, modulo times and our own extra fields. */
export function expectSameState(ours: Map<string, KeyDump>, java: Map<string, KeyDump>, step: string): void {
  expect([...ours.keys()].sort(), `${step}: keys`).to.deep.equal([...java.keys()].sort());
  for (const [key, j] of java) {
    const o = ours.get(key)!;
    const where = `${step}: ${key}`;
    expect(o.type, `${where} type`).to.equal(j.type);
    if (j.type === 'list') {
      const parse = (xs: string[]) => xs.map((x) => JSON.parse(x) as unknown);
      expect(parse(o.value as string[]), `${where} items`).to.deep.equal(parse(j.value as string[]));
      continue;
    }
    const ov = o.value as Record<string, string>;
    const jv = j.value as Record<string, string>;
    const ourNames = Object.keys(ov).filter((f) => !(key.startsWith('p:ss:') && OUR_FIELDS.has(f)));
    expect(ourNames.sort(), `${where} fields`).to.deep.equal(Object.keys(jv).sort());
    for (const f of Object.keys(jv)) {
      if (j.type === 'zset' || TIME_FIELDS.has(f)) {
        expect(isMs(ov[f]), `${where} ${f} is ms: ${ov[f]}`).to.equal(true);
      } else {
        expect(ov[f], `${where} ${f}`).to.equal(jv[f]);
      }
    }
    for (const f of Object.keys(ov).filter((n) => OUR_FIELDS.has(n))) {
      if (f === 'ownTimeToLive') expect(ov[f], `${where} ${f}`).to.equal(ov.timeToLive);
      else expect(isMs(ov[f]), `${where} ${f}`).to.equal(true);
    }
  }
}

export const JAVA_REDIS = '/work/shared/reference/java-redis';
export const JEDIS_SHARDS = '/work/shared/reference/jedis-shards.txt';

/** A redis-server child of this test process, on a free loopback port. */
export class RedisChild {
  private proc?: ChildProcess;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushlet-redis-test-'));

  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  static async start(args: string[] = []): Promise<RedisChild> {
    const child = new RedisChild(await freePort(), args);
    await child.restart();
    return child;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, on the same port and data directory). */
  async restart(): Promise<void> {
    const bin = process.env.PUSHLET_TEST_REDIS_BIN ?? '/usr/bin/redis-server';
    this.proc = spawn(
      bin,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.args],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      const ok = await probe.connect().then(() => probe.ping().then((p) => p === 'PONG'), () => false);
      probe.disconnect();
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await sleep(50);
    }
  }

  /** Stops the server; SHUTDOWN lets it write its append-only file first. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    const c = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
    c.on('error', () => undefined);
    await c.connect().then(() => c.shutdown('SAVE' as never)).catch(() => undefined);
    c.disconnect();
    await Promise.race([exited, sleep(3000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
  }

  async remove(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy to `target` that holds every chunk sent to Redis for `delayMs`: each round trip
 * then costs at least that, so a test can count round trips by the clock.
 */
export class SlowProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(target: number, delayMs: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.on('data', (chunk) => setTimeout(() => upstream.write(chunk), delayMs));
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(target: number, delayMs: number): Promise<SlowProxy> {
    const p = new SlowProxy(target, delayMs);
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    return p;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** A Redis Cluster of `size` masters (no replicas), each a RedisChild; slots split evenly. */
export class RedisClusterChildren {
  /** The masters first (as started), then any replicas added. */
  private constructor(readonly nodes: RedisChild[]) {}

  static async start(size = 3): Promise<RedisClusterChildren> {
    const nodes: RedisChild[] = [];
    for (let i = 0; i < size; i++) {
      nodes.push(await RedisChild.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
    }
    const clients = nodes.map((n) => rawClient(n.url));
    try {
      const per = Math.ceil(16384 / size);
      await Promise.all(
        clients.map((c, i) => {
          const slots: number[] = [];
          for (let s = i * per; s < Math.min(16384, (i + 1) * per); s++) slots.push(s);
          return c.cluster('ADDSLOTS', ...slots);
        }),
      );
      for (const n of nodes.slice(1)) await clients[0].cluster('MEET', '127.0.0.1', n.port);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const infos = await Promise.all(clients.map((c) => c.cluster('INFO') as Promise<string>));
        if (infos.every((i) => i.includes('cluster_state:ok') && i.includes(`cluster_known_nodes:${size}`))) break;
        if (Date.now() > deadline) throw new Error('Redis Cluster did not become ready');
        await sleep(100);
      }
    } finally {
      clients.forEach((c) => c.disconnect());
    }
    return new RedisClusterChildren(nodes);
  }

  /** Starts a replica of master `index` and waits until it is in sync. */
  async addReplica(index: number): Promise<RedisChild> {
    const replica = await RedisChild.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']);
    const master = rawClient(this.nodes[index].url);
    const r = rawClient(replica.url);
    try {
      await r.cluster('MEET', '127.0.0.1', this.nodes[index].port);
      const masterId = (await master.cluster('MYID')) as string;
      const deadline = Date.now() + 20_000;
      const wait = async (what: string, done: () => Promise<boolean>) => {
        while (!(await done())) {
          if (Date.now() > deadline) throw new Error(`replica: ${what} did not happen`);
          await sleep(100);
        }
      };
      // REPLICATE works once the replica has heard of the master; asked again, it starts over.
      await wait('REPLICATE', () => r.cluster('REPLICATE', masterId).then(() => true, () => false));
      await wait('sync', async () => /master_link_status:up/.test(await r.info('replication')));
    } finally {
      master.disconnect();
      r.disconnect();
    }
    this.nodes.push(replica);
    return replica;
  }

  /** `host:port,...` of every node, as a serverlist. */
  get serverlist(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  async flushAll(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        const c = rawClient(n.url);
        await c.flushall();
        c.disconnect();
      }),
    );
  }

  async remove(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.remove()));
  }
}
