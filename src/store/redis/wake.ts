/**
 * Wakes requests waiting for events, driven by Redis itself: keyspace notifications on
 * `p:eq:*` (any node, Java too, pushing to a queue) and `p:ss:*` (a session deleted), plus our
 * own channel. Where notifications cannot be enabled, one timer per process polls the queues
 * of the waiting sessions in one pipelined batch.
 */
import type Redis from 'ioredis';
import type { Connection } from './connection';
import { QUEUE_PREFIX, SESSION_PREFIX, WAKE_CHANNEL, queue } from './keys';

/**
 * A look at Redis for a waiter of `id`: undefined when it should keep waiting, otherwise what
 * was found (events queued, or the session ended).
 */
export type Look<T> = (id: string) => Promise<T | undefined>;

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

export class Wake<T> {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Subscriber connection per server, by `host:port`. */
  private readonly subscribers = new Map<string, Redis>();
  private pollTimer?: NodeJS.Timeout;
  /** True when notifications could not be enabled on some server. */
  polling = false;
  private closed = false;

  constructor(
    private readonly conn: Connection,
    private readonly pollIntervalMs: number,
    private readonly look: Look<T>,
  ) {}

  async start(): Promise<void> {
    await this.enableNotifications(this.conn.nodes());
    // A restarted Redis has forgotten CONFIG SET; pushes made before it was set again went
    // unnoticed, so waiters look again. A failure here is logged by enableNotifications.
    this.conn.onReady(() => void this.enableNotifications(this.conn.nodes()).then(() => this.wakeAll()));
    this.conn.onNodeChange((node) => void this.adopt(node), (node) => this.forget(node));
    await Promise.all(this.conn.nodes().map((node) => this.listen(node)));
  }

  /** A Redis Cluster node that appeared after start (a new master or replica). */
  private async adopt(node: Redis): Promise<void> {
    if (this.closed) return;
    try {
      await this.enableNotifications([node]);
      await this.listen(node);
    } catch (err) {
      this.conn.log.warn({ err: String((err as Error).message), node: nodeName(node) }, 'cannot listen for keyspace notifications on a new Redis node');
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
    sub.on('message', (_channel: string, id: string) => this.wakeUp(id));
    // Notifications sent while this connection was down are lost: let every waiter look again.
    sub.on('ready', () => this.wakeAll());
    const db = node.options.db ?? 0;
    await sub.psubscribe(`__keyspace@${db}__:${QUEUE_PREFIX}*`, `__keyspace@${db}__:${SESSION_PREFIX}*`);
    await sub.subscribe(WAKE_CHANNEL);
  }

  private onKeyspace(channel: string, event: string): void {
    const key = channel.slice(channel.indexOf('__:') + 3);
    if (key.startsWith(QUEUE_PREFIX) && PUSH_EVENTS.has(event)) this.wakeUp(key.slice(QUEUE_PREFIX.length));
    else if (key.startsWith(SESSION_PREFIX) && GONE_EVENTS.has(event)) this.wakeUp(key.slice(SESSION_PREFIX.length));
  }

  /** Tells the waiters of `ids` on every node; only needed for what keyspace events do not show. */
  async announce(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.conn.on(queue(id)).publish(WAKE_CHANNEL, id)));
  }

  /** Wakes the local waiters of `id`. */
  wakeUp(id: string): void {
    const set = this.waiters.get(id);
    if (set) for (const w of [...set]) w();
  }

  private wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.wakeUp(id);
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
   * Resolves on news for `id`, after `ms`, or on abort: with what the look found when the look
   * itself ended the wait, else undefined. Registers before looking at Redis so a push between
   * the look and the registration cannot be missed.
   */
  wait(id: string, ms: number, signal?: AbortSignal): Promise<T | undefined> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiting = set;
      let settled = false;
      const finish = (err?: unknown, found?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(id) === waiting) this.waiters.delete(id);
        signal?.removeEventListener('abort', done);
        if (err) reject(err);
        else resolve(found);
      };
      const done = () => finish();
      const timer = setTimeout(done, ms);
      waiting.add(done);
      signal?.addEventListener('abort', done, { once: true });
      this.look(id).then((found) => found !== undefined && finish(undefined, found), finish);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    this.wakeAll();
    await Promise.all([...this.subscribers.values()].map((s) => s.quit().then(() => undefined, () => s.disconnect())));
  }
}
