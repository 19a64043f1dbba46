/**
 * The Redis connections of a store: one server, Java-style client-side shards, Redis Cluster or
 * Sentinel. ioredis sends a command without waiting for earlier replies, so a batch built with
 * Promise.all costs one round trip per server; auto-pipelining also packs it into one write.
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../../errors';
import { SILENT, type Logger } from '../../logger';
import { ALL_SCRIPTS, BATCH, type ScriptDef } from './scripts';
import { ShardRing } from './sharding';

export interface ConnectionOptions {
  /** `host:port[:password]`, comma-separated; several servers are client-side shards. */
  serverlist?: string;
  /** `redis://`, `rediss://` or `redis-sentinel://...#master` URL, used when there is no serverlist. */
  url?: string;
  /** Treat the servers (serverlist or url) as startup nodes of a Redis Cluster. */
  cluster?: boolean;
  /** Extra ioredis options for every connection, e.g. `{ sentinels, name }` for Sentinel. */
  redisOptions?: RedisOptions;
  /** Connect timeout, as Java's `redis.socketto`. */
  socketTimeoutMs: number;
  logger?: Logger;
}

/**
 * What a request that needs Redis gets while Redis cannot be reached; the HTTP layer answers 503.
 * The message names the server, never the client library's words; those stay in `cause`.
 */
export class RedisUnavailableError extends StoreUnavailableError {
  constructor(address: string, readonly cause?: unknown) {
    super(`Redis at ${address} is unavailable`);
  }
}

/** `host:port[:password],...` as Java's `redis.serverlist`. */
export function parseServerlist(list: string): RedisOptions[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [host, port, ...pw] = entry.split(':');
      const o: RedisOptions = { host, port: Number(port || 6379) };
      if (pw.length) o.password = pw.join(':');
      return o;
    });
}

type ScriptCall = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/** A single-key command for `batch`: its key, its name, its other arguments. */
export type KeyCommand = readonly [key: string, command: string, ...args: string[]];

export class Connection {
  readonly log: Logger;
  /** Standalone servers in serverlist order (one unless sharded); empty with a cluster. */
  private readonly servers: Redis[] = [];
  private readonly cluster?: Cluster;
  private readonly ring?: ShardRing;
  /** Set by close(): the connections ending then are no outage. */
  private closing = false;
  /** Commands sent and failed, outages begun, servers unreachable now: for metrics. */
  readonly stats = { commands: 0, errors: 0, outages: 0, down: 0 };
  /** The servers as an operator names them (`host:port`, comma-separated), for errors and logs. */
  readonly address: string;

  constructor(opts: ConnectionOptions) {
    this.log = opts.logger ?? SILENT;
    const common: RedisOptions = {
      ...opts.redisOptions,
      connectTimeout: opts.socketTimeoutMs,
      // Fail fast while Redis is away (the request gets a 503) instead of queueing for later.
      enableOfflineQueue: false,
      // A command cut off by a disconnect may have run: resending could queue an event twice.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    };
    const targets = opts.serverlist ? parseServerlist(opts.serverlist) : [];
    const named = targets.length ? targets : [urlOptions(opts.url)];
    this.address = named.map(describe).join(',');
    if (opts.cluster) {
      const nodes = targets.length ? targets : [urlOptions(opts.url)];
      this.cluster = new Cluster(
        nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          // A cluster pipeline is retried after a failover only when all its commands moved
          // to one slot; sent one by one, each command follows MOVED by itself.
          enableAutoPipelining: false,
          enableOfflineQueue: false,
          lazyConnect: true,
          redisOptions: { ...common, password: nodes[0].password, tls: nodes[0].tls },
        },
      );
      this.watch(this.cluster, 'cluster');
    } else {
      const list = targets.length ? targets : [urlOptions(opts.url)];
      for (const [i, t] of list.entries()) {
        const client = new Redis({ ...common, enableAutoPipelining: true, ...t });
        this.watch(client, `server ${i}`);
        this.servers.push(client);
      }
      if (this.servers.length > 1) this.ring = new ShardRing(this.servers.length);
    }
    for (const c of this.clients()) {
      // A script of many keys takes their count as its first argument.
      for (const s of ALL_SCRIPTS) c.defineCommand(s.name, s.manyKeys ? { lua: s.lua } : { numberOfKeys: 1, lua: s.lua });
      this.count(c);
    }
  }

  /** Counts every command a client sends, and those that fail. */
  private count(c: Redis | Cluster): void {
    type Cmd = { name: string; promise: Promise<unknown> };
    const send = c.sendCommand.bind(c) as (cmd: Cmd, ...rest: unknown[]) => unknown;
    (c as { sendCommand: unknown }).sendCommand = (cmd: Cmd, ...rest: unknown[]) => {
      this.stats.commands++;
      // Not failures: NOSCRIPT is ioredis loading a script on first use; CLIENT SETINFO at
      // connect is refused by Redis before 7.2.
      cmd.promise.catch((err: Error) => {
        if (cmd.name !== 'client' && !err?.message?.startsWith('NOSCRIPT')) this.stats.errors++;
      });
      return send(cmd, ...rest);
    };
  }

  /** Answers when every server answers PING. */
  async ping(): Promise<void> {
    await Promise.all(this.clients().map((c) => c.ping()));
  }

  private clients(): (Redis | Cluster)[] {
    return this.cluster ? [this.cluster] : this.servers;
  }

  /** Logs an outage once (ioredis repeats 'error' on every reconnect attempt) and its end. */
  private watch(c: Redis | Cluster, name: string): void {
    let down = false;
    const lost = (reason: string) => {
      if (down || this.closing) return;
      down = true;
      this.stats.outages++;
      this.stats.down++;
      this.log.warn({ reason, redis: name, address: this.address }, `Redis at ${this.address} is unavailable; requests that need it get 503 until it is back`);
    };
    c.on('error', (err: Error) => lost(err.message));
    c.on('close', () => lost('connection closed'));
    c.on('ready', () => {
      if (!down) return;
      down = false;
      this.stats.down--;
      this.log.info({ redis: name, address: this.address }, `Redis at ${this.address} is available again`);
    });
  }

  async connect(): Promise<void> {
    await Promise.all(this.clients().map((c) => c.connect()));
  }

  /**
   * The connection that holds `key`. A Cluster routes by itself; it is typed as a plain client
   * because both offer the same commands.
   */
  on(key: string): Redis {
    if (this.cluster) return this.cluster as unknown as Redis;
    return this.servers[this.ring ? this.ring.shardOf(key) : 0];
  }

  /** Runs a single-key script on the server of `key`. */
  script(def: ScriptDef, key: string, ...args: (string | number)[]): Promise<unknown> {
    const client = this.on(key);
    return (client as unknown as Record<string, ScriptCall>)[def.name].call(client, key, ...args);
  }

  /**
   * Runs a script of many keys (`def.manyKeys`) once per group of `keys` that one call may
   * hold: all of them on one server, those of one shard when sharded, one key per call on a
   * Cluster (its keys rarely share a slot). ARGV is `shared`, then `perKey(i)` for each key of
   * the call; the script answers one entry per key, returned here in the order of `keys`.
   */
  async scriptMany(def: ScriptDef, keys: readonly string[], shared: readonly string[], perKey: (i: number) => readonly string[]): Promise<unknown[]> {
    const out: unknown[] = new Array(keys.length);
    await Promise.all(this.groups(keys).map(async (group) => {
      const args: string[] = [...shared];
      for (const i of group) args.push(...perKey(i));
      const client = this.on(keys[group[0]]);
      const answers = (await (client as unknown as Record<string, ScriptCall>)[def.name].call(
        client, String(group.length), ...group.map((i) => keys[i]), ...args,
      )) as unknown[];
      group.forEach((k, j) => { out[k] = answers[j]; });
    }));
    return out;
  }

  /**
   * Single-key commands (`[key, command, ...args]`) in as few calls as `scriptMany` allows;
   * replies in order, raw as Redis gives them (HGETALL: a flat field/value list). Worth it for
   * a page of commands, not for a few: on Redis 7.0 a script call costs about 8 µs and each
   * command in it about 4.5 µs, a plain pipelined command about 1.5 µs, while every command
   * the node sends costs it more than that.
   */
  batch(commands: readonly KeyCommand[]): Promise<unknown[]> {
    return this.scriptMany(BATCH, commands.map((c) => c[0]), [], (i) => {
      const [, name, ...args] = commands[i];
      return [String(args.length), name, ...args];
    });
  }

  /** Indexes of `keys` grouped by the server that holds them. */
  private groups(keys: readonly string[]): number[][] {
    const all = keys.map((_, i) => i);
    if (this.cluster) return all.map((i) => [i]);
    if (!this.ring) return keys.length ? [all] : [];
    const byShard = new Map<number, number[]>();
    for (const i of all) {
      const shard = this.ring.shardOf(keys[i]);
      const group = byShard.get(shard);
      if (group) group.push(i);
      else byShard.set(shard, [i]);
    }
    return [...byShard.values()];
  }

  /**
   * One connection per server (each shard; each cluster node, replicas too, as one may become
   * master), for server-local things: CONFIG and keyspace notifications.
   */
  nodes(): Redis[] {
    return this.cluster ? this.cluster.nodes('all') : this.servers;
  }

  /** Follows Redis Cluster topology changes: `added` for a node that joins, `removed` for one that leaves. */
  onNodeChange(added: (node: Redis) => void, removed: (node: Redis) => void): void {
    this.cluster?.on('+node', added);
    this.cluster?.on('-node', removed);
  }

  /** Fires `fn` whenever a server (re)connects; Redis forgets CONFIG SET when it restarts. */
  onReady(fn: () => void): void {
    for (const c of this.clients()) c.on('ready', fn);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.clients().map((c) => c.quit().then(() => undefined, () => c.disconnect())),
    );
  }
}

/** `redis-sentinel://[[user:]password@]host[:port][,host[:port]...][/db]#masterName` (as Lettuce writes it). */
function sentinelOptions(url: string): RedisOptions {
  const m = /^redis-sentinel:\/\/(?:([^@]*)@)?([^/#]+)(?:\/(\d+))?#(.+)$/.exec(url);
  if (!m) throw new Error(`not a sentinel URL (redis-sentinel://host:port[,host:port...][/db]#masterName): ${url}`);
  const [, auth, hosts, db, name] = m;
  const o: RedisOptions = {
    sentinels: hosts.split(',').map((h) => {
      const [host, port] = h.split(':');
      return { host, port: Number(port || 26379) };
    }),
    name: decodeURIComponent(name),
  };
  if (auth) o.password = decodeURIComponent(auth.slice(auth.indexOf(':') + 1));
  if (db) o.db = Number(db);
  return o;
}

/** `host:port`, or the sentinels and master name. */
function describe(o: RedisOptions): string {
  if (o.sentinels) return `${o.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} (sentinel master ${o.name})`;
  return `${o.host}:${o.port}`;
}

function urlOptions(url: string | undefined): RedisOptions {
  if (!url) return { host: '127.0.0.1', port: 6379 };
  if (url.startsWith('redis-sentinel:')) return sentinelOptions(url);
  const u = new URL(url);
  const o: RedisOptions = { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
  if (u.password) o.password = decodeURIComponent(u.password);
  if (u.username) o.username = decodeURIComponent(u.username);
  const db = u.pathname.replace(/^\//, '');
  if (db) o.db = Number(db);
  if (u.protocol === 'rediss:') o.tls = {};
  return o;
}
