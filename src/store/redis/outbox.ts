/**
 * The outbox of the Redis store: publishes this node accepted and has not fanned out yet, in a
 * list of its own, so that another node fans them out if this one dies. Each node renews its
 * entry in a registry; an outbox whose node stopped renewing it for `orphanMs` is taken over
 * under a lease by one node, which keeps its publishes as its own before deleting it.
 */
import { randomBytes } from 'node:crypto';
import type { Fields } from '../../protocol/event';
import type { KeptPublish, OutboxStore } from '../store';
import type { Connection } from './connection';
import { OUTBOXES, lease, outbox } from './keys';
import { DROP_LEASE, TAKE_LEASE } from './scripts';

/** Orphaned outboxes one `adopt` takes at most. */
const ADOPT_AT_ONCE = 10;
/** How long one node may take to move an orphaned outbox before another may try. */
const ADOPT_LEASE_MS = 60_000;

export class RedisOutbox implements OutboxStore {
  /** This node's name in the registry (a process that restarts is a new node). */
  private readonly node = randomBytes(12).toString('hex');
  private readonly own: string;
  /** Each publish as stored, so `release` removes exactly that entry. */
  private readonly stored = new WeakMap<KeptPublish, string>();
  private registered = 0;

  /** `orphanMs`: an outbox not renewed for this long belongs to a node that is gone. */
  constructor(private readonly conn: Connection, private readonly orphanMs: number) {
    this.own = outbox(this.node);
  }

  async keep(p: KeptPublish): Promise<void> {
    // A random tag keeps two equal publishes apart, so a release removes one of them.
    const json = JSON.stringify({ e: p.event, o: p.onlineOnly, t: randomBytes(6).toString('hex') });
    this.stored.set(p, json);
    // The registry names this outbox before anything is in it.
    await Promise.all([this.register(false), this.conn.on(this.own).rpush(this.own, json)]);
  }

  async release(p: KeptPublish): Promise<void> {
    const json = this.stored.get(p);
    if (json !== undefined) await this.conn.on(this.own).lrem(this.own, 1, json);
  }

  async adopt(): Promise<KeptPublish[]> {
    await this.register(true);
    const gone = await this.conn.on(OUTBOXES).zrangebyscore(OUTBOXES, '-inf', Date.now() - this.orphanMs, 'LIMIT', 0, ADOPT_AT_ONCE);
    const adopted: KeptPublish[] = [];
    for (const node of gone) adopted.push(...(await this.take(node)));
    return adopted;
  }

  /** Moves the outbox of `node` into this node's, under a lease; its publishes. */
  private async take(node: string): Promise<KeptPublish[]> {
    const name = `outbox:${node}`;
    if ((await this.conn.script(TAKE_LEASE, lease(name), this.node, ADOPT_LEASE_MS)) !== 1) return [];
    try {
      const key = outbox(node);
      const entries = await this.conn.on(key).lrange(key, 0, -1);
      // Kept here first: dying between the two steps leaves them twice, never nowhere.
      if (entries.length) await Promise.all([this.register(false), this.conn.on(this.own).rpush(this.own, ...entries)]);
      await this.conn.on(key).del(key);
      await this.conn.on(OUTBOXES).zrem(OUTBOXES, node);
      return entries.flatMap((json) => {
        const p = decode(json);
        if (p) this.stored.set(p, json);
        return p ? [p] : [];
      });
    } finally {
      await this.conn.script(DROP_LEASE, lease(name), this.node);
    }
  }

  /** Renews this node's registry entry; `force`, or when it is older than a second. */
  private async register(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.registered < 1000) return;
    this.registered = now;
    await this.conn.on(OUTBOXES).zadd(OUTBOXES, now, this.node);
  }

  /** On a clean stop: an empty outbox leaves the registry; one still holding publishes stays for another node. */
  async close(): Promise<void> {
    if ((await this.conn.on(this.own).llen(this.own)) > 0) return;
    await this.conn.on(OUTBOXES).zrem(OUTBOXES, this.node);
  }
}

/** A kept publish as stored; null for an entry that is not one (it is dropped). */
function decode(json: string): KeptPublish | null {
  try {
    const v = JSON.parse(json) as { e?: unknown; o?: unknown };
    if (v === null || typeof v.e !== 'object' || v.e === null) return null;
    const event: Fields = Object.create(null);
    for (const [k, x] of Object.entries(v.e as Record<string, unknown>)) if (typeof x === 'string') event[k] = x;
    return { event, onlineOnly: v.o === true };
  } catch {
    return null;
  }
}
