/**
 * The `redis` store: all state in Java's key model (docs/PROTOCOL.md section 11), so our nodes and
 * Java Pushlet nodes serve one cluster. Only single-key commands and scripts that treat each of
 * their keys by itself, run per server (Connection.scriptMany).
 */
import { createHash } from 'node:crypto';
import { isMode, type Mode } from '../../protocol/constants';
import { subjectKeys, subjectParts } from '../../protocol/subject';
import type { Queued } from '../../protocol/event';
import {
  DEFAULT_STORE_SETTINGS, type Cancel, type Delivery, type EnqueueResult, type NewSession, type OutboxStore, type SessionPatch, type SessionRec, type Store,
  type StoreSettings, type StoreStats, type Subscriber, type Subscription, type Waiting,
} from '../store';
import { decodeQueued, decodeSession, decodeSubscription, encodeQueued, encodeSubscription, hashOf, isOnline, trustedLastSeen } from './codec';
import { Connection, RedisUnavailableError, type ConnectionOptions } from './connection';
import {
  ALL_SESSIONS, SR_MODE, SS, lease, publishRecord, listenState, queue, session, subjectIndex, subjectSessions, subscriptions,
} from './keys';
import { ACK_EVENTS, ACK_TAIL, AGE, AGED, DROP_LEASE, HDEL_IF_EQUAL, HSET_IF_EXISTS, PUSH_IF_ROOM, TAKE_LEASE } from './scripts';
import { RedisOutbox } from './outbox';
import { Wake, type JavaNodes, type Watch } from './wake';

export { RedisUnavailableError } from './connection';

export interface RedisStoreOptions extends ConnectionOptions, Partial<StoreSettings> {
  /** Fallback only: how often waiting requests look at their queues when Redis refuses keyspace notifications. */
  pollIntervalMs?: number;
  /** Whether Java nodes share the Redis, so their pushes must be seen (`redis.java.nodes`); default `auto`. */
  javaNodes?: JavaNodes;
  /** A node's kept publishes not renewed for this long are fanned out by another (`publish.adopt.millis`); default 30 s. */
  adoptAfterMs?: number;
}

/** A queue read with a session by `touch`, for the wait that follows it. */
interface Prefetch {
  /** The queue, newest first; undefined when the read failed. */
  reading: Promise<string[] | undefined>;
  /** Wakes since the read was sent. */
  watch: Watch;
  at: number;
}

/** What a touch read of a session, for the next touches (RedisStore.recent). */
interface Recent {
  rec: SessionRec;
  address: string;
  at: number;
}

/** A whole queue as this node read it, for `RedisStore.noteRead`. */
interface LastRead {
  /** Taken before the read: wake-ups since. */
  watch: Watch;
  at: number;
  /** The oldest event read, and how many: an ack of exactly these empties what was read. */
  first: Queued;
  count: number;
  /** Acked, all of it, from the tail of the queue. */
  emptied: boolean;
}

/** Sessions RedisStore.recent holds at most. */
const MAX_RECENT = 100_000;

/** Whether a touch recording `patch` would write nothing new on `r`. */
function fits(r: Recent, patch?: SessionPatch): boolean {
  return (patch?.address === undefined || patch.address === r.address) && (patch?.mode === undefined || patch.mode === r.rec.mode);
}

/** A prefetched queue no wait took within this is dropped (its request went another way). */
const PREFETCH_MS = 10_000;

/** Acks kept through an outage at most; beyond, the oldest are forgotten (their events come again). */
const MAX_UNSENT_ACKS = 100_000;

/** Pages of subscriber ids read from a subject index in one command. */
const IDS_PER_READ = 10;

/** Pages of `p:zset:as` one reclaim looks through at most. */
const RECLAIM_PAGES = 10;

/** Java's aging lock counts as held by another node while it is younger than this. */
const AGING_LOCK_MS = 60_000;

/** Replies that mean Redis cannot serve right now, as opposed to a bad command. */
const UNAVAILABLE_REPLY = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|READONLY|NOAUTH|WRONGPASS)\b/;

/** The error to pass on: connection trouble becomes RedisUnavailableError; bugs stay what they are. */
function unavailable(err: unknown, address: string): unknown {
  if (err instanceof RedisUnavailableError || err instanceof TypeError || err instanceof RangeError) return err;
  const e = err as Error;
  if (e?.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(e.message)) return err;
  return new RedisUnavailableError(address, err);
}

/**
 * Whether a session as just read needs no kick: its lease full as our node wrote it (no aging
 * pass, no Java node since), the patch already there, lastSeen younger than a tenth of the lease
 * (at most 1 s). Aging counts from lastSeen, so skipping costs the lease at most that much,
 * which the next kick restores; a pull client in a loop then renews about once a second, not
 * every round.
 */
function renewedJustNow(h: Record<string, string>, mode: string | null, leaseMs: number, patch?: { address?: string; mode?: Mode }): boolean {
  const lease = String(leaseMs);
  if (h[SS.TIME_TO_LIVE] !== lease || h[SS.OWN_TIME_TO_LIVE] !== lease) return false;
  if (patch?.address !== undefined && patch.address !== h[SS.ADDRESS]) return false;
  if (patch?.mode !== undefined && patch.mode !== mode) return false;
  const age = Date.now() - Number(h[SS.LAST_SEEN]);
  return age >= 0 && age < Math.min(1000, leaseMs / 10);
}

/**
 * Whether a session hash shows a Java node's hand: our nodes write timeToLive and ownTimeToLive
 * together; a Java node creating, renewing or aging a session writes timeToLive alone.
 */
function isJavaWritten(ttl: string | null | undefined, ownTtl: string | null | undefined): boolean {
  return ttl !== null && ttl !== undefined && ttl !== ownTtl;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

export class RedisStore implements Store {
  private readonly conn: Connection;
  /** A wait ended by its look answers with the queue it found (newest first). */
  private readonly wake: Wake<string[]>;
  private readonly settings: StoreSettings;
  private readonly pageSize: number;
  private readonly box: RedisOutbox;
  /** The outbox, its failures told as RedisUnavailableError like every other verb's. */
  readonly outbox: OutboxStore;
  readonly sharedFanOut = true;
  /** Each peeked event as stored, so `ack` removes exactly that entry. */
  private readonly stored = new WeakMap<Queued, string>();
  /** Where in `p:zset:as` the next reclaim looks. */
  private reclaimAt = 0;
  /**
   * Sessions a touch read and renewed lately: another touch within `recentMs` answers from here,
   * with no round trip. A session stopped by any of our nodes, or deleted by a Java node while
   * keyspace notifications are on, is forgotten at once (`Wake` tells); any other change made
   * elsewhere shows within `recentMs`.
   */
  private readonly recent = new Map<string, Recent>();
  private readonly recentMs: number;
  /** This node's last whole read of each session's queue, until acked and waited on (`noteRead`). */
  private readonly reads = new Map<string, LastRead>();
  /** Queues read by `touch` for the wait that follows, by session id, oldest first. */
  private readonly prefetched = new Map<string, Prefetch>();
  /** Acks that found Redis away: [session id, events as stored], sent when it is back. */
  private readonly unsentAcks: [string, string[]][] = [];
  /** When this node last aged sessions: a pass counts down at most the time since then. */
  private lastAgingPass = Date.now();
  private starting?: Promise<void>;

  constructor(opts: RedisStoreOptions) {
    this.conn = new Connection(opts);
    this.wake = new Wake(this.conn, opts.pollIntervalMs ?? 200, (id) => this.look(id), opts.javaNodes, (id) => this.recent.delete(id));
    const box = (this.box = new RedisOutbox(this.conn, opts.adoptAfterMs ?? 30_000));
    this.outbox = {
      keep: (p) => this.io(() => box.keep(p)),
      release: (p) => this.io(() => box.release(p)),
      adopt: () => this.io(() => box.adopt()),
    };
    this.settings = {
      leaseMs: opts.leaseMs ?? DEFAULT_STORE_SETTINGS.leaseMs,
      queueSize: opts.queueSize ?? DEFAULT_STORE_SETTINGS.queueSize,
      subjectMatch: opts.subjectMatch ?? DEFAULT_STORE_SETTINGS.subjectMatch,
      pageSize: Math.max(1, opts.pageSize ?? DEFAULT_STORE_SETTINGS.pageSize),
    };
    this.pageSize = this.settings.pageSize;
    // As long as a renewal may be skipped (renewedJustNow): the lease loses at most that much.
    this.recentMs = Math.min(1000, this.settings.leaseMs / 10);
  }

  /** A connected store: connections up, keyspace notifications enabled (or polling set up). */
  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(opts);
    await store.start();
    return store;
  }

  /** Connects (once, however often called); a store built with `new` must be started before use. */
  start(): Promise<void> {
    this.starting ??= this.connectAll();
    return this.starting;
  }

  private async connectAll(): Promise<void> {
    try {
      await this.conn.connect();
      await this.wake.start();
      this.conn.onReady(() => void this.resendAcks());
    } catch (err) {
      await this.close();
      throw unavailable(err, this.conn.address);
    }
  }

  /** Redis commands sent and failed since start. */
  stats(): StoreStats {
    return { ...this.conn.stats, keyspace: this.wake.keyspace };
  }

  /** Whether waiting requests poll (keyspace notifications were refused). */
  get polling(): boolean {
    return this.wake.polling;
  }

  private on(key: string) {
    return this.conn.on(key);
  }

  /** Runs `fn`, turning connection failures into RedisUnavailableError. */
  private async io<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err, this.conn.address);
    }
  }

  openSession(rec: NewSession): Promise<void> {
    const { leaseMs } = this.settings;
    this.recent.delete(rec.id);
    return this.io(async () => {
      const k = session(rec.id);
      const now = Date.now();
      // A persistent session re-opened keeps its createDate and place in p:zset:as, as in Java.
      await Promise.all([
        this.on(k).hset(k, {
          [SS.USER_AGENT]: rec.userAgent.toLowerCase(),
          [SS.TEMPORARY]: String(rec.temporary),
          [SS.TIME_TO_LIVE]: String(leaseMs),
          [SS.OWN_TIME_TO_LIVE]: String(leaseMs),
          [SS.ADDRESS]: rec.address,
          [SS.FORMAT]: rec.format,
          [SS.LAST_SEEN]: String(now),
        }),
        this.on(k).hsetnx(k, SS.CREATE_DATE, String(rec.createDate)),
        this.on(ALL_SESSIONS).zadd(ALL_SESSIONS, 'NX', now, rec.id),
      ]);
    });
  }

  getSession(id: string): Promise<SessionRec | null> {
    return this.io(async () => decodeSession(id, ...(await this.readSession(id))));
  }

  /** The session hash and listen mode; two plain commands (batched, they would cost Redis more than they save this node). */
  private readSession(id: string): Promise<[Record<string, string>, string | null]> {
    return Promise.all([
      this.on(session(id)).hgetall(session(id)),
      this.on(listenState(id)).hget(listenState(id), SR_MODE),
    ]);
  }

  touch(id: string, patch?: SessionPatch, revive = true, waiting = false): Promise<SessionRec | null> {
    const known = this.recent.get(id);
    if (known && Date.now() - known.at < this.recentMs && fits(known, patch)) {
      if (waiting) this.prefetch(id);
      return Promise.resolve({ ...known.rec });
    }
    return this.io(async () => {
      const at = Date.now();
      const reading = this.readSession(id);
      if (waiting) this.prefetch(id);
      const [hash, mode] = await reading;
      const rec = decodeSession(id, hash, mode);
      if (rec && isJavaWritten(hash[SS.TIME_TO_LIVE], hash[SS.OWN_TIME_TO_LIVE])) this.wake.javaSeen(`session ${id}`);
      if (!rec || (!rec.online && !revive)) return rec;
      // A persistent session back after its lease ran out may have been reclaimed: list it again.
      if (!renewedJustNow(hash, mode, this.settings.leaseMs, patch)) await this.renew(id, patch, rec.online ? undefined : rec.createDate);
      if (rec.online) this.remember({ rec: { ...rec, mode: patch?.mode ?? rec.mode }, address: patch?.address ?? hash[SS.ADDRESS], at });
      return rec;
    });
  }

  /** Keeps what a touch read and renewed, for the touches of the next `recentMs` (bounded, oldest out). */
  private remember(r: Recent): void {
    this.recent.delete(r.rec.id);
    if (this.recent.size >= MAX_RECENT) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(r.rec.id, r);
  }

  /**
   * Reads the queue of `id` in the round trip of the session read, for the wait that follows; a
   * watch taken first tells that wait whether anything came after this read.
   */
  private prefetch(id: string): void {
    const now = Date.now();
    // In time order: drop what no wait took.
    for (const [k, p] of this.prefetched) {
      if (now - p.at < PREFETCH_MS) break;
      this.dropPrefetch(k);
    }
    this.dropPrefetch(id);
    const emptied = this.takeEmptied(id);
    if (emptied) {
      this.prefetched.set(id, { reading: Promise.resolve([]), watch: emptied, at: now });
      return;
    }
    const watch = this.wake.watch(id);
    const reading = this.on(queue(id)).lrange(queue(id), 0, -1).catch(() => undefined);
    this.prefetched.set(id, { reading, watch, at: now });
  }

  private dropPrefetch(id: string): void {
    const p = this.prefetched.get(id);
    if (!p) return;
    this.prefetched.delete(id);
    this.wake.unwatch(id, p.watch);
  }

  kick(id: string, patch?: SessionPatch): Promise<void> {
    this.recent.delete(id);
    return this.io(() => this.renew(id, patch));
  }

  /** Renews the lease of an existing session, records `patch`; `relist` (its createDate): add it to `p:zset:as` again. */
  private async renew(id: string, patch: SessionPatch | undefined, relist?: number): Promise<void> {
    const lease = String(this.settings.leaseMs);
    const fields = [SS.TIME_TO_LIVE, lease, SS.OWN_TIME_TO_LIVE, lease, SS.LAST_SEEN, String(Date.now())];
    if (patch?.address !== undefined) fields.push(SS.ADDRESS, patch.address);
    // Never brings back a deleted session (Java's ghost sessions: docs/PROTOCOL.md section 11, DIFF 11).
    const written = await this.conn.script(HSET_IF_EXISTS, session(id), ...fields);
    if (written !== 1) return;
    await Promise.all([
      patch?.mode !== undefined ? this.on(listenState(id)).hset(listenState(id), SR_MODE, patch.mode) : undefined,
      relist !== undefined ? this.on(ALL_SESSIONS).zadd(ALL_SESSIONS, 'NX', relist || Date.now(), id) : undefined,
    ]);
  }

  stopSession(id: string): Promise<void> {
    return this.io(async () => this.stop(id, (await this.on(session(id)).hget(session(id), SS.TEMPORARY)) === 'false'));
  }

  /** Stops a session: persistent (`keepState`): offline; else deleted. Wakes its waiters on every node. */
  private async stop(id: string, keepState: boolean): Promise<void> {
    this.recent.delete(id);
    this.forgetRead(id);
    if (keepState) await this.conn.script(HSET_IF_EXISTS, session(id), SS.TIME_TO_LIVE, '0', SS.OWN_TIME_TO_LIVE, '0');
    else await this.deleteSession(id);
    await this.wake.announce([id], true);
  }

  /** Java's deletes for a temporary session, in its order (docs/PROTOCOL.md section 11). */
  private async deleteSession(id: string): Promise<void> {
    this.recent.delete(id);
    const sc = subscriptions(id);
    const [subjects] = await Promise.all([
      this.on(sc).hkeys(sc),
      this.on(ALL_SESSIONS).zrem(ALL_SESSIONS, id),
      this.on(session(id)).del(session(id)),
      this.on(queue(id)).del(queue(id)),
      this.on(listenState(id)).del(listenState(id)),
    ]);
    await Promise.all([...this.unlistAll(id, subjects), this.on(sc).del(sc)]);
  }

  /** Removes `id` from the subject indexes of every part of `subjects`. */
  private unlistAll(id: string, subjects: readonly string[]): Promise<number>[] {
    return unique(subjects.flatMap(subjectParts)).flatMap((p) => [
      this.on(subjectSessions(p)).hdel(subjectSessions(p), id),
      this.on(subjectIndex(p)).zrem(subjectIndex(p), id),
    ]);
  }

  subscribe(id: string, subject: string, label?: string): Promise<Subscription> {
    return this.io(async () => {
      const sub: Subscription = label === undefined ? { subject } : { subject, label };
      const now = Date.now();
      await Promise.all([
        this.on(subscriptions(id)).hset(subscriptions(id), subject, encodeSubscription(sub)),
        ...subjectParts(subject).flatMap((p) => [
          this.on(subjectSessions(p)).hset(subjectSessions(p), id, subject),
          this.on(subjectIndex(p)).zadd(subjectIndex(p), now, id),
        ]),
      ]);
      return sub;
    });
  }

  unsubscribe(id: string, sid?: string): Promise<Subscription[] | null> {
    return this.io(async () => {
      const sc = subscriptions(id);
      if (sid === undefined) {
        const all = await this.on(sc).hgetall(sc);
        const subs = Object.entries(all).map(([subject, json]) => decodeSubscription(subject, json));
        await Promise.all([...this.unlistAll(id, Object.keys(all)), this.on(sc).del(sc)]);
        return subs;
      }
      const json = await this.on(sc).hget(sc, sid);
      if (json === null) return null;
      const parts = subjectParts(sid);
      // Another subscription of this session may now be the one listed under a part: keep it.
      const [, ...removed] = await Promise.all([
        this.on(sc).hdel(sc, sid),
        ...parts.map((p) => this.conn.script(HDEL_IF_EQUAL, subjectSessions(p), id, sid)),
      ]);
      await Promise.all(
        parts.filter((_, i) => removed[i] === 1).map((p) => this.on(subjectIndex(p)).zrem(subjectIndex(p), id)),
      );
      return [decodeSubscription(sid, json)];
    });
  }

  async *subscribersOf(subject: string): AsyncIterable<Subscriber[]> {
    const parts = subjectKeys(subject, this.settings.subjectMatch);
    const chunk = this.pageSize * IDS_PER_READ;
    // A session listed under several matching parts comes once, with the longest.
    const seen = new Set<string>();
    const ghosts: [id: string, part: string][] = [];
    const idsOf = (part: string, offset: number) => this.io(() => this.on(subjectIndex(part)).zrange(subjectIndex(part), offset, String(offset + chunk - 1)));
    // Prefix matching asks for every prefix of a subject, mostly empty: all first reads in one
    // call per server, so a long subject costs Redis a lookup per prefix, not this node a command.
    const firstReads = parts.length === 1
      ? [await idsOf(parts[0], 0)]
      : ((await this.io(() => this.conn.batch(parts.map((p) => [subjectIndex(p), 'ZRANGE', '0', String(chunk - 1)])))) as string[][]);
    try {
      for (const [i, part] of parts.entries()) {
        let ids = firstReads[i];
        for (let offset = 0; ids.length > 0; offset += chunk) {
          // The next ids are read while this read's pages go out. Ghosts leave the index only at
          // the end, so offsets stay true meanwhile.
          const next = ids.length < chunk ? undefined : idsOf(part, offset + chunk);
          next?.catch(() => undefined);
          for (let at = 0; at < ids.length; at += this.pageSize) {
            const fresh = ids.slice(at, at + this.pageSize).filter((id) => !seen.has(id));
            if (fresh.length === 0) continue;
            const read = await this.io(() => this.readSubscribers(part, fresh));
            for (const s of read.page) seen.add(s.id);
            for (const id of read.ghosts) ghosts.push([id, part]);
            if (read.page.length) yield read.page;
          }
          ids = next ? await next : [];
        }
      }
    } finally {
      await this.io(() => Promise.all(ghosts.map(([id, part]) => this.dropGhost(id, part))));
    }
  }

  /** Everything delivery needs of one page of subscribers, in one pipelined round trip. */
  private async readSubscribers(part: string, ids: string[]): Promise<{ page: Subscriber[]; ghosts: string[] }> {
    const replies = await this.conn.batch([
      // Which subscription lists each id here: one HMGET for the page, not one HGET per id.
      [subjectSessions(part), 'HMGET', ...ids],
      ...ids.flatMap((id) => [
        [subscriptions(id), 'HGETALL'],
        [session(id), 'HMGET', SS.TIME_TO_LIVE, SS.TEMPORARY, SS.LAST_SEEN, SS.OWN_TIME_TO_LIVE],
        [listenState(id), 'HGET', SR_MODE],
      ] as const),
    ]);
    const subjects = replies[0] as (string | null)[];
    const page: Subscriber[] = [];
    const ghosts: string[] = [];
    ids.forEach((id, i) => {
      const subs = hashOf(replies[1 + 3 * i] as string[]);
      const [ttl, temporary, lastSeen, ownTtl] = replies[2 + 3 * i] as (string | null)[];
      const mode = replies[3 + 3 * i] as string | null;
      const subject = subjects[i];
      if (ttl === null && temporary === null) {
        ghosts.push(id);
        return;
      }
      if (isJavaWritten(ttl, ownTtl)) this.wake.javaSeen(`session ${id}`);
      // Listed in the index but no longer (or not yet fully) subscribed: not a receiver.
      if (subject === null || subs[subject] === undefined) return;
      const s: Subscriber = {
        id, ...decodeSubscription(subject, subs[subject]), online: isOnline(ttl), temporary: temporary !== 'false',
      };
      if (mode !== null && isMode(mode)) s.mode = mode;
      const seen = trustedLastSeen(lastSeen, ttl, ownTtl);
      if (seen !== undefined) s.lastSeen = seen;
      page.push(s);
    });
    return { page, ghosts };
  }

  /**
   * A session listed under a subject whose hash is gone: Java would bring it back as a ghost
   * (docs/PROTOCOL.md section 11, DIFF 11). We delete what is left of it instead.
   */
  private async dropGhost(id: string, part: string): Promise<void> {
    await Promise.all([
      this.deleteSession(id),
      this.on(subjectSessions(part)).hdel(subjectSessions(part), id),
      this.on(subjectIndex(part)).zrem(subjectIndex(part), id),
    ]);
  }

  enqueue(deliveries: readonly Delivery[]): Promise<EnqueueResult[]> {
    const capacity = this.settings.queueSize;
    return this.io(async () => {
      const ids = unique(deliveries.map((d) => d.id));
      // Whether each session still exists is asked in the same round trip as the push; a queue
      // pushed for a session gone meanwhile is deleted with what is left of it.
      const [exists, pushed] = await Promise.all([
        this.conn.batch(ids.map((id) => [session(id), 'EXISTS'])),
        this.push(deliveries, capacity),
      ]);
      const alive = new Set(ids.filter((_, i) => exists[i] === 1));
      const results = deliveries.map((d, i): EnqueueResult => {
        if (!alive.has(d.id)) return 'gone';
        return pushed[i] ? 'ok' : 'full';
      });
      const gone = ids.filter((id) => !alive.has(id));
      const woken = unique(deliveries.filter((_, i) => results[i] === 'ok').map((d) => d.id));
      // The publish need not wait for the wake-up: a lost one is made up by the waiter's timeout.
      this.wake.announce(woken).catch(() => undefined);
      await Promise.all(gone.map((id) => this.deleteSession(id)));
      return results;
    });
  }

  /** LPUSHes each delivery onto its queue unless full; per delivery whether it was pushed. */
  private async push(deliveries: readonly Delivery[], capacity: number): Promise<boolean[]> {
    // Receivers of one subscription get the same JSON: sent once, named by its index.
    const payloads: string[] = [];
    const index = new Map<string, string>();
    const byQueue = new Map<string, { at: number[]; payload: string[] }>();
    deliveries.forEach((d, i) => {
      const json = encodeQueued(d.q);
      let p = index.get(json);
      if (p === undefined) index.set(json, (p = String(payloads.push(json) - 1)));
      let q = byQueue.get(d.id);
      if (!q) byQueue.set(d.id, (q = { at: [], payload: [] }));
      q.at.push(i);
      q.payload.push(p);
    });
    const ids = [...byQueue.keys()];
    const counts = await this.conn.scriptMany(
      PUSH_IF_ROOM, ids.map(queue), [String(capacity), String(payloads.length), ...payloads],
      (k) => { const q = byQueue.get(ids[k])!; return [String(q.payload.length), ...q.payload]; },
    );
    const pushed = deliveries.map(() => false);
    ids.forEach((id, k) => byQueue.get(id)!.at.forEach((i, j) => { pushed[i] = j < Number(counts[k]); }));
    return pushed;
  }

  notQueuedYet(pubid: string, ids: readonly string[]): Promise<string[]> {
    const key = publishRecord(pubid);
    return this.io(async () => {
      const member = await this.conn.batch(ids.map((id) => [key, 'SISMEMBER', id]));
      return ids.filter((_, i) => member[i] !== 1);
    });
  }

  markQueued(pubid: string, ids: readonly string[], ttlMs: number): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    const key = publishRecord(pubid);
    return this.io(async () => {
      await Promise.all([this.on(key).sadd(key, ...ids), this.on(key).pexpire(key, ttlMs)]);
    });
  }

  peek(id: string): Promise<Queued[]> {
    const watch = this.wake.watch(id);
    return this.io(async () => this.noteRead(id, watch, this.decodeQueue(await this.on(queue(id)).lrange(queue(id), 0, -1))))
      .catch((err: unknown) => {
        this.wake.unwatch(id, watch);
        throw err;
      });
  }

  /**
   * Remembers `events`, the whole queue of `id` as read after `watch` was taken: once they are
   * all acked from its tail, the queue holds only what came after, which a wake-up announces, so
   * the next wait or refresh need not read it first (`takeEmptied`).
   */
  private noteRead(id: string, watch: Watch, events: Queued[]): Queued[] {
    this.forgetRead(id);
    const now = Date.now();
    // In time order: drop what no ack or wait took.
    for (const [k, r] of this.reads) {
      if (now - r.at < PREFETCH_MS) break;
      this.forgetRead(k);
    }
    if (events.length === 0) this.wake.unwatch(id, watch);
    else this.reads.set(id, { watch, at: now, first: events[0], count: events.length, emptied: false });
    return events;
  }

  private forgetRead(id: string): void {
    const r = this.reads.get(id);
    if (!r) return;
    this.reads.delete(id);
    this.wake.unwatch(id, r.watch);
  }

  /** The watch of a last read all acked with no wake-up since: then the queue holds nothing unannounced. */
  private takeEmptied(id: string): Watch | undefined {
    const r = this.reads.get(id);
    if (!r) return undefined;
    this.reads.delete(id);
    if (r.emptied && !r.watch.woken) return r.watch;
    this.wake.unwatch(id, r.watch);
    return undefined;
  }

  /** A queue as read (newest first, as Java pushes), oldest first, each event remembered as stored for `ack`. */
  private decodeQueue(newestFirst: string[]): Queued[] {
    return newestFirst.reverse().map((json) => {
      const q = decodeQueued(json);
      this.stored.set(q, json);
      return q;
    });
  }

  /**
   * While Redis is away an ack is kept and sent once it is back, so events a client already has
   * are not sent again after the outage (unless this node dies first: then they are, once).
   */
  async ack(id: string, events: readonly Queued[]): Promise<void> {
    const stored = events.map((q) => this.stored.get(q)).filter((json): json is string => json !== undefined);
    if (stored.length === 0) return;
    try {
      const tail = await this.io(() => this.removeAcked(id, stored));
      // The whole of this node's last read, taken from the tail: what is queued now, a wake-up told.
      const r = this.reads.get(id);
      if (tail && r && r.first === events[0] && r.count === events.length) r.emptied = true;
      else this.forgetRead(id);
    } catch (err) {
      this.forgetRead(id);
      if (!(err instanceof RedisUnavailableError)) throw err;
      if (this.unsentAcks.length >= MAX_UNSENT_ACKS) this.unsentAcks.shift();
      this.unsentAcks.push([id, stored]);
    }
  }

  /**
   * Removes `stored` (oldest first) from the queue of `id`: by their hash when they are its tail,
   * else one by one. True when they were the tail.
   */
  private async removeAcked(id: string, stored: string[]): Promise<boolean> {
    if (stored.length > 2) {
      const newestFirst = createHash('sha1').update(stored.slice().reverse().join('\n')).digest('hex');
      if ((await this.conn.script(ACK_TAIL, queue(id), stored.length, newestFirst)) === 1) return true;
    }
    return (await this.conn.script(ACK_EVENTS, queue(id), ...stored)) === 1;
  }

  /** Sends the acks kept through an outage; those that fail again are kept for the next time. */
  private async resendAcks(): Promise<void> {
    const acks = this.unsentAcks.splice(0);
    await Promise.all(acks.map(async ([id, stored]) => {
      try {
        await this.removeAcked(id, stored);
      } catch {
        this.unsentAcks.push([id, stored]);
      }
    }));
  }

  reclaim(max: number): Promise<number> {
    return this.io(async () => {
      let freed = 0;
      for (let pages = 0; pages < RECLAIM_PAGES && freed < max; pages++) {
        const at = this.reclaimAt;
        const ids = await this.on(ALL_SESSIONS).zrange(ALL_SESSIONS, at, String(at + this.pageSize - 1));
        // Each call goes on where the last stopped, round the whole list.
        this.reclaimAt = ids.length < this.pageSize ? 0 : at + ids.length;
        const info = (await this.conn.batch(ids.map((id) => [session(id), 'HMGET', SS.TIME_TO_LIVE, SS.TEMPORARY, SS.LAST_SEEN, SS.OWN_TIME_TO_LIVE]))) as (string | null)[][];
        const now = Date.now();
        // Idle: the lease ran out, as aging counted it or (not aged since our node renewed it)
        // by the clock. A hash not there yet may be a join in progress: aging deals with those.
        const idle = ids
          .map((id, i) => {
            const [ttl, temporary, lastSeen, ownTtl] = info[i];
            const seen = trustedLastSeen(lastSeen, ttl, ownTtl);
            const ranOut = !isOnline(ttl) || (seen !== undefined && seen + Number(ttl) <= now);
            return { id, temporary, idle: temporary !== null && ranOut };
          })
          .filter((x) => x.idle)
          .slice(0, max - freed);
        // Persistent: expired as aging would (timeToLive 0), then out of the count.
        await Promise.all(idle.map(({ id, temporary }) => (temporary === 'false'
          ? Promise.all([
            this.conn.script(HSET_IF_EXISTS, session(id), SS.TIME_TO_LIVE, '0', SS.OWN_TIME_TO_LIVE, '0'),
            this.on(ALL_SESSIONS).zrem(ALL_SESSIONS, id),
          ])
          : this.deleteSession(id))));
        if (this.reclaimAt > 0) this.reclaimAt -= idle.length;
        freed += idle.length;
        if (this.reclaimAt === 0) break;
      }
      return freed;
    });
  }

  countSessions(): Promise<number> {
    return this.io(() => this.on(ALL_SESSIONS).zcard(ALL_SESSIONS));
  }

  subscribedSubjects(id: string): Promise<string[]> {
    return this.io(() => this.on(subscriptions(id)).hkeys(subscriptions(id)));
  }

  async *sessionIds(): AsyncIterable<string[]> {
    for (let offset = 0; ; offset += this.pageSize) {
      const ids = await this.io(() => this.on(ALL_SESSIONS).zrange(ALL_SESSIONS, offset, String(offset + this.pageSize - 1)));
      if (ids.length) yield ids;
      if (ids.length < this.pageSize) return;
    }
  }

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.io(async () => (await this.conn.script(TAKE_LEASE, lease(name), holder, ttlMs)) === 1);
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.io(async () => { await this.conn.script(DROP_LEASE, lease(name), holder); });
  }

  ping(): Promise<void> {
    return this.io(() => this.conn.ping());
  }

  /** A wait that its own look ended tells the queue it read: one LRANGE less per round. */
  waitForEvents(id: string, ms: number, w: Waiting): void {
    this.waitFor(id, ms, w).then((found) => w.woken(found), (err: unknown) => w.failed(err));
  }

  private waitFor(id: string, ms: number, cancel: Cancel): Promise<Queued[] | undefined> {
    const p = this.prefetched.get(id);
    if (p) this.prefetched.delete(id);
    return this.io(async () => {
      const read = await p?.reading;
      if (p && read === undefined) this.wake.unwatch(id, p.watch);
      if (p && read?.length) return this.noteRead(id, p.watch, this.decodeQueue(read));
      // What touch read (or this node's last read, all acked) stands in for a look, unless a
      // wake came after it was sent.
      const since = read ? p?.watch : this.takeEmptied(id);
      const queued = await this.wake.wait(id, ms, cancel, since);
      return queued === undefined ? undefined : this.decodeQueue(queued);
    });
  }

  /** What a waiter of `id` should return for now: the queue when it has events or the session ended. */
  private async look(id: string): Promise<string[] | undefined> {
    const [queued, [ttl, ownTtl]] = await Promise.all([
      this.on(queue(id)).lrange(queue(id), 0, -1),
      this.on(session(id)).hmget(session(id), SS.TIME_TO_LIVE, SS.OWN_TIME_TO_LIVE),
    ]);
    if (isJavaWritten(ttl, ownTtl)) this.wake.javaSeen(`session ${id}`);
    return queued.length > 0 || !isOnline(ttl) ? queued : undefined;
  }

  expire(now: number): Promise<SessionRec[]> {
    return this.io(async () => {
      const maxElapsed = Math.max(0, now - this.lastAgingPass);
      this.lastAgingPass = now;
      const expired: string[] = [];
      let offset = 0;
      for (;;) {
        const flat = await this.on(ALL_SESSIONS).zrange(ALL_SESSIONS, offset, String(offset + this.pageSize - 1), 'WITHSCORES');
        if (flat.length === 0) break;
        const ids = flat.filter((_, i) => i % 2 === 0);
        const results = await Promise.all(
          ids.map((id) => this.conn.script(AGE, session(id), now, maxElapsed, AGING_LOCK_MS)),
        );
        // Listed without a hash for a whole lock period: left over by a node that died stopping it.
        const stale = ids.filter((_, i) => results[i] === AGED.GONE && Number(flat[2 * i + 1]) < now - AGING_LOCK_MS);
        await Promise.all(stale.map((id) => this.deleteSession(id)));
        expired.push(...ids.filter((_, i) => results[i] === AGED.EXPIRED));
        offset += ids.length - stale.length;
        if (ids.length < this.pageSize) break;
      }
      const recs = (await Promise.all(expired.map((id) => this.getSession(id)))).filter((r): r is SessionRec => r !== null);
      await Promise.all(recs.map((r) => this.stop(r.id, !r.temporary)));
      return recs;
    });
  }

  async close(): Promise<void> {
    // Best effort: an outbox left registered is only adopted, empty, by another node later.
    await this.box.close().catch(() => undefined);
    await this.wake.close();
    await this.conn.close();
  }
}
