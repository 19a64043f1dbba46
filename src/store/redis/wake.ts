/**
 * Wakes requests waiting for events. Our nodes tell each other with one message per page of
 * sessions they queued for (`announce`, on our own channel); events pushed by Java nodes, which
 * send no such message, are seen through keyspace notifications on `p:eq:*` (a push) and
 * `p:ss:*` (a session deleted). Those cost Redis a message to every node for every push and
 * every ack, so they are listened to only while Java nodes may write (`redis.java.nodes`).
 * Where notifications cannot be enabled, one timer per process polls the queues of the waiting
 * sessions in one pipelined batch.
 */
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { wheel, type Timed } from '../../timer-wheel';
import type { Cancel } from '../store';
import type { Connection } from './connection';
import { QUEUE_PREFIX, SESSION_PREFIX, WAKE_CHANNEL } from './keys';

/**
 * A look at Redis for a waiter of `id`: undefined when it should keep waiting, otherwise what
 * was found (events queued, or the session ended).
 */
export type Look<T> = (id: string) => Promise<T | undefined>;

/**
 * Whether Java nodes share the Redis: `on` listens to keyspace notifications from the start,
 * `off` never, `auto` once a Java node's writes are seen (`javaSeen`).
 */
export type JavaNodes = 'auto' | 'on' | 'off';

/** Wakes seen for one session since a look that a wait may stand on (`watch`). */
export interface Watch {
  woken: boolean;
}

/** Keyspace events on a queue that mean something was added to it. */
const PUSH_EVENTS = new Set(['lpush', 'rpush', 'linsert', 'lset', 'lmove', 'rpoplpush']);
/** Keyspace events on a session hash that mean it is gone. */
const GONE_EVENTS = new Set(['del', 'expired', 'evicted']);

/** `K` keyspace channel, `g` generic (del), `l` list commands; `A` includes g and l. */
function withOurFlags(current: string): string {
  let flags = current;
  if (!flags.includes('K')) flags += 'K';
  if (!flags.includes('A')) {
    if (!flags.includes('g')) flags += 'g';
    if (!flags.includes('l')) flags += 'l';
  }
  return flags;
}

function nodeName(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

function keyspacePatterns(node: Redis): string[] {
  const db = node.options.db ?? 0;
  return [`__keyspace@${db}__:${QUEUE_PREFIX}*`, `__keyspace@${db}__:${SESSION_PREFIX}*`];
}

/**
 * A wake message: `{"from": node, "ids": [...]}` for sessions that got events, `{"from": node,
 * "gone": [...]}` for sessions stopped; from older nodes of ours a JSON array of ids, or a bare id.
 */
function readMessage(message: string): { ids: string[]; gone: boolean; from?: string } {
  if (message.startsWith('[') || message.startsWith('{')) {
    try {
      const v = JSON.parse(message) as unknown;
      const o = (Array.isArray(v) ? { ids: v } : v) as { ids?: unknown; gone?: unknown; from?: unknown } | null;
      const list = o?.ids ?? o?.gone;
      if (Array.isArray(list)) {
        const ids = list.filter((id): id is string => typeof id === 'string');
        return { ids, gone: o?.gone !== undefined, from: typeof o?.from === 'string' ? o.from : undefined };
      }
    } catch {
      // Not ours: an id that starts with a bracket.
    }
  }
  return { ids: [message], gone: true };
}

export class Wake<T> {
  private readonly waiters = new Map<string, Set<Timed>>();
  private readonly watches = new Map<string, Set<Watch>>();
  /** Subscriber connection per server, by `host:port`. */
  private readonly subscribers = new Map<string, Redis>();
  private pollTimer?: NodeJS.Timeout;
  /** True when notifications could not be enabled on some server. */
  polling = false;
  /** Whether keyspace notifications are listened to (Java nodes may push). */
  keyspace: boolean;
  private closed = false;
  /** This node's name in its wake messages. */
  private readonly node = randomBytes(8).toString('hex');

  constructor(
    private readonly conn: Connection,
    private readonly pollIntervalMs: number,
    private readonly look: Look<T>,
    private readonly javaNodes: JavaNodes = 'auto',
    /** Told of each session another node stopped (or a Java node deleted). */
    private readonly onGone: (id: string) => void = () => undefined,
  ) {
    this.keyspace = javaNodes === 'on';
  }

  async start(): Promise<void> {
    if (this.keyspace) await this.enableNotifications(this.conn.nodes());
    // A restarted Redis has forgotten CONFIG SET; pushes made before it was set again went
    // unnoticed, so waiters look again. A failure here is logged by enableNotifications.
    this.conn.onReady(() => {
      if (this.keyspace) void this.enableNotifications(this.conn.nodes()).then(() => this.wakeAll());
    });
    this.conn.onNodeChange((node) => void this.adopt(node), (node) => this.forget(node));
    await Promise.all(this.conn.nodes().map((node) => this.listen(node)));
  }

  /**
   * A Java node writes to this Redis (`redis.java.nodes=auto`): from now on listen to keyspace
   * notifications, and let every waiter look again for what was pushed meanwhile.
   */
  javaSeen(what: string): void {
    if (this.keyspace || this.javaNodes !== 'auto' || this.closed) return;
    this.keyspace = true;
    this.conn.log.info({ seen: what }, 'a Java node writes to this Redis: listening to keyspace notifications for its pushes (redis.java.nodes=auto)');
    void (async () => {
      await this.enableNotifications(this.conn.nodes());
      await Promise.all([...this.subscribers.values()].map((sub) => sub.psubscribe(...keyspacePatterns(sub)).catch(() => undefined)));
      this.wakeAll();
    })();
  }

  /** A Redis Cluster node that appeared after start (a new master or replica). */
  private async adopt(node: Redis): Promise<void> {
    if (this.closed) return;
    try {
      if (this.keyspace) await this.enableNotifications([node]);
      await this.listen(node);
    } catch (err) {
      this.conn.log.warn({ err: String((err as Error).message), node: nodeName(node) }, 'cannot listen for wake-ups on a new Redis node');
    }
  }

  private forget(node: Redis): void {
    const sub = this.subscribers.get(nodeName(node));
    this.subscribers.delete(nodeName(node));
    sub?.disconnect();
  }

  private async enableNotifications(nodes: Redis[]): Promise<void> {
    const results = await Promise.allSettled(
      nodes.map(async (node) => {
        const [, current] = (await node.config('GET', 'notify-keyspace-events')) as [string, string];
        const wanted = withOurFlags(current ?? '');
        if (wanted !== current) await node.config('SET', 'notify-keyspace-events', wanted);
      }),
    );
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused && !this.polling) {
      this.polling = true;
      this.conn.log.warn(
        { err: String(refused.reason?.message ?? refused.reason), intervalMs: this.pollIntervalMs },
        'Redis refused to enable keyspace notifications; waiting requests poll their queues instead',
      );
      this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
  }

  private async listen(node: Redis): Promise<void> {
    if (this.subscribers.has(nodeName(node))) return;
    const sub = node.duplicate({ enableOfflineQueue: true, enableAutoPipelining: false, lazyConnect: false });
    this.subscribers.set(nodeName(node), sub);
    sub.on('error', () => {
      // The command connections log outages; this one reconnects and resubscribes by itself.
    });
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => this.onKeyspace(channel, message));
    sub.on('message', (_channel: string, message: string) => {
      const { ids, gone, from } = readMessage(message);
      // This node's own were woken when it sent them: again would only make their next wait look.
      if (from === this.node) return;
      for (const id of ids) {
        if (gone) this.onGone(id);
        this.wakeUp(id);
      }
    });
    // Messages sent while this connection was down are lost: let every waiter look again.
    sub.on('ready', () => this.wakeAll());
    if (this.keyspace) await sub.psubscribe(...keyspacePatterns(node));
    await sub.subscribe(WAKE_CHANNEL);
  }

  private onKeyspace(channel: string, event: string): void {
    const key = channel.slice(channel.indexOf('__:') + 3);
    if (key.startsWith(QUEUE_PREFIX) && PUSH_EVENTS.has(event)) this.wakeUp(key.slice(QUEUE_PREFIX.length));
    else if (key.startsWith(SESSION_PREFIX) && GONE_EVENTS.has(event)) {
      const id = key.slice(SESSION_PREFIX.length);
      this.onGone(id);
      this.wakeUp(id);
    }
  }

  /**
   * Tells the waiters of `ids` on every node, ours included, that they got events (or, `gone`,
   * that their sessions stopped): one message, sent once whatever it announces is in Redis.
   */
  async announce(ids: readonly string[], gone = false): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) this.wakeUp(id);
    await this.conn.on(WAKE_CHANNEL).publish(WAKE_CHANNEL, JSON.stringify(gone ? { from: this.node, gone: ids } : { from: this.node, ids }));
  }

  /** Wakes the local waiters of `id`. */
  wakeUp(id: string): void {
    const watching = this.watches.get(id);
    if (watching) for (const w of watching) w.woken = true;
    const set = this.waiters.get(id);
    if (set) for (const w of [...set]) w.expire();
  }

  private wakeAll(): void {
    for (const id of [...this.watches.keys()]) this.wakeUp(id);
    for (const id of [...this.waiters.keys()]) this.wakeUp(id);
  }

  /**
   * Notes from now on whether `id` is woken, so that a look at Redis made now can stand in for
   * the one `wait` would make (pass the watch to it). Every watch must go to `wait` or `unwatch`.
   */
  watch(id: string): Watch {
    const w: Watch = { woken: false };
    let set = this.watches.get(id);
    if (!set) this.watches.set(id, (set = new Set()));
    set.add(w);
    return w;
  }

  unwatch(id: string, w: Watch): void {
    const set = this.watches.get(id);
    if (!set?.delete(w)) return;
    if (set.size === 0) this.watches.delete(id);
  }

  /** One pipelined look at the queues of every waiting session (the fallback). */
  private async poll(): Promise<void> {
    const ids = [...this.waiters.keys()];
    if (ids.length === 0) return;
    try {
      const found = await Promise.all(ids.map((id) => this.look(id)));
      ids.forEach((id, i) => found[i] !== undefined && this.wakeUp(id));
    } catch {
      // Redis is away; waiters time out as usual and the next request reports it.
    }
  }

  /**
   * Resolves on news for `id`, after `ms`, or when cancelled: with what the look found when the look
   * itself ended the wait, else undefined. Registers before looking at Redis so a push between
   * the look and the registration cannot be missed. With `since` (a watch taken before a look
   * that found nothing), the look is skipped unless a wake came after that look began.
   */
  wait(id: string, ms: number, cancel?: Cancel, since?: Watch): Promise<T | undefined> {
    if (since) this.unwatch(id, since);
    if (ms <= 0 || cancel?.cancelled) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiting = set;
      let settled = false;
      const finish = (err?: unknown, found?: T) => {
        if (settled) return;
        settled = true;
        wheel.remove(w);
        waiting.delete(w);
        if (waiting.size === 0 && this.waiters.get(id) === waiting) this.waiters.delete(id);
        cancel?.onCancel(undefined);
        if (err) reject(err);
        else resolve(found);
      };
      const w: Timed = { slot: -1, expire: () => finish() };
      wheel.add(w, ms);
      waiting.add(w);
      cancel?.onCancel(w);
      if (!since || since.woken) this.look(id).then((found) => found !== undefined && finish(undefined, found), finish);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    this.wakeAll();
    await Promise.all([...this.subscribers.values()].map((s) => s.quit().then(() => undefined, () => s.disconnect())));
  }
}
