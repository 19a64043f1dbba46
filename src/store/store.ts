import type { Format, Mode } from '../protocol/constants';
import type { Fields, Queued } from '../protocol/event';
import type { SubjectMatch } from '../protocol/subject';

/** A session as stored; the fields mirror Java's `p:ss:<id>` hash. */
export interface SessionRec {
  id: string;
  format: Format;
  /** false for a persistent session (joined with a client-chosen `p_id`). */
  temporary: boolean;
  /** ms since the epoch. */
  createDate: number;
  /** lower-cased, as Java stores it. */
  userAgent: string;
  address: string;
  /** Set at listen (`p:sr:<id>`). */
  mode?: Mode;
  /** Whether the lease is running: false once it ran out or the session left. */
  online: boolean;
  /** ms since the epoch of the last request or data-channel round seen, when known. */
  lastSeen?: number;
}

export type NewSession = Omit<SessionRec, 'online' | 'lastSeen' | 'mode'>;

export interface Subscription {
  /** The subscribed subject string, which is also its `p_sid`: `/a` or `/a,/b`. */
  subject: string;
  label?: string;
}

/**
 * What ends a wait before its time: the request it serves went away, or the server is shutting
 * down. A held request waits for one thing at a time, so this holds one listener, not an
 * EventTarget: an AbortSignal and its listeners cost memory per held request and microseconds
 * per wait.
 */
export interface Cancel {
  readonly cancelled: boolean;
  /** `l.expire()` runs once when cancelled, in place of any earlier listener; undefined removes it. */
  onCancel(l: { expire(): void } | undefined): void;
}

/**
 * A request waiting for a session's events: told by plain calls, not a promise, since ten
 * thousand may wait at once (the data channel implements it).
 */
export interface Waiting extends Cancel {
  woken(found: Queued[] | undefined): void;
  failed(err: unknown): void;
}

/** One session listed under a subject part, with what delivery needs to know of it. */
export interface Subscriber extends Subscription {
  id: string;
  online: boolean;
  mode?: Mode;
  lastSeen?: number;
  temporary: boolean;
}

/** What a store that talks to a server (Redis) counts. */
export interface StoreStats {
  /** Commands sent, and those that failed. */
  commands: number;
  errors: number;
  /** Outages begun (a server became unreachable). */
  outages: number;
  /** Servers unreachable now. */
  down: number;
  /** Whether the store listens to keyspace notifications (Java nodes' pushes). */
  keyspace: boolean;
}

export type EnqueueResult = 'ok' | 'full' | 'gone';

export interface Delivery {
  id: string;
  q: Queued;
}

/** What every store is given when it is made, instead of on every call. */
export interface StoreSettings {
  /** A session's lease in ms (`session.timeout.mins` or `session.lease.millis`). */
  leaseMs: number;
  /** Events a session's queue holds (`queue.size`). */
  queueSize: number;
  /** How a published subject matches subscriptions (`subject.match`). */
  subjectMatch: SubjectMatch;
  /** Entries per page of `subscribersOf` and `sessionIds` (`redis.pagesize`). */
  pageSize: number;
}

export const DEFAULT_STORE_SETTINGS: StoreSettings = { leaseMs: 180_000, queueSize: 256, subjectMatch: 'prefix', pageSize: 100 };

/** What a request tells of its client, recorded on its session. */
export interface SessionPatch {
  address?: string;
  mode?: Mode;
}

/**
 * Sessions (Java's `p:ss:<id>`, `p:sr:<id>`, `p:zset:as`). A session is online while its lease
 * runs; a request renews it. Temporary sessions are deleted when they stop, persistent ones stay
 * (offline) with their subscriptions and queue until a request or a join brings them back.
 */
export interface SessionStore {
  /** Creates the session, or re-opens a persistent one keeping its subscriptions and queue. */
  openSession(rec: NewSession): Promise<void>;
  /** The session, or null when there is none. Changes nothing. */
  getSession(id: string): Promise<SessionRec | null>;
  /**
   * Reads a session and renews its lease, recording `patch`: what each request naming a session
   * does (`revive`: an offline persistent session comes back), and each round of a stream (not
   * `revive`: an offline session stays offline, nothing is written). Resolves to the session as
   * read, before renewing (null: none). One verb, so a store may answer both from one read.
   * `waiting`: the request goes on to `waitForEvents` for this session on this node, so a store
   * may read the queue in the same round trip and start that wait from what it read.
   */
  touch(id: string, patch?: SessionPatch, revive?: boolean, waiting?: boolean): Promise<SessionRec | null>;
  /** Renews the lease and records `patch`, when the session exists; never creates one. */
  kick(id: string, patch?: SessionPatch): Promise<void>;
  /**
   * Ends a session and wakes its waiting requests: a temporary one is deleted with everything of
   * it; a persistent one goes offline, keeping its subscriptions and queue.
   */
  stopSession(id: string): Promise<void>;
  /**
   * One aging pass: counts leases down to `now` and stops (as `stopSession`) every online session
   * whose lease ran out; resolves to those, as they were. In a cluster each is stopped by one node.
   */
  expire(now: number): Promise<SessionRec[]>;
  /**
   * Frees up to `max` sessions that hold nothing (their lease ran out: no request and no data
   * channel for a lease), oldest first, persistent ones included, so that new ones can join
   * under `limit.sessions`. The embedded store deletes them. The Redis store deletes temporary
   * ones and takes persistent ones out of `p:zset:as` (so out of the count), keeping their state
   * as Java keeps it; their next request or join lists them again. Resolves to how many.
   */
  reclaim(max: number): Promise<number>;
  /** How many sessions exist (for `limit.sessions` and metrics). */
  countSessions(): Promise<number>;
  /** Every session id, in pages (broadcasts, metrics). */
  sessionIds(): AsyncIterable<string[]>;
}

/**
 * Subscriptions (Java's `p:sc:<id>`, `p:sj:<s>`, `p:zset:sj:<s>`). A subscription is named by its
 * subject string (`/a` or `/a,/b`, also its `p_sid`) and listed under each single subject of it.
 */
export interface SubscriptionStore {
  /** Adds the subscription, or replaces the one of the same subject string (its label). */
  subscribe(id: string, subject: string, label?: string): Promise<Subscription>;
  /** With `sid`: removes that subscription (null when there is none). Without: all of them. */
  unsubscribe(id: string, sid?: string): Promise<Subscription[] | null>;
  /** The subject strings `id` subscribed to. */
  subscribedSubjects(id: string): Promise<string[]>;
  /**
   * The sessions with a subscription matching a published `subject` (by `subjectMatch`: the
   * subject itself, or any prefix of it), each once with the subscription that matched first
   * (the longest subject), in pages of at most `pageSize`.
   */
  subscribersOf(subject: string): AsyncIterable<Subscriber[]>;
}

/**
 * Event queues (Java's `p:eq:<id>`). Events leave a queue only by `ack`, once the answer carrying
 * them was written, so a node that dies while writing loses nothing.
 */
export interface QueueStore {
  /**
   * Appends each event to its session's queue, unless it holds `queueSize` events: `ok`, `full`,
   * or `gone` (no such session: none is created). Waiting requests of those sessions wake, on
   * every node.
   */
  enqueue(deliveries: readonly Delivery[]): Promise<EnqueueResult[]>;
  /**
   * Of `ids`, those the publish `pubid` (a publisher's `p_pubid`) was not yet queued for, as
   * `markQueued` recorded it: a retried publish skips receivers that already have it.
   */
  notQueuedYet(pubid: string, ids: readonly string[]): Promise<string[]>;
  /** Records that the publish `pubid` was queued for `ids`, for `ttlMs`. */
  markQueued(pubid: string, ids: readonly string[], ttlMs: number): Promise<void>;
  /**
   * Waits until the queue of `id` has events, the session stopped, `ms` passed or `w` was
   * cancelled, whichever is first, then tells `w` once, never before returning: `woken` with
   * the events when it read them on the way (as `peek` would: oldest first, left in the queue),
   * else undefined (then `peek` reads them); `failed` when the store is unavailable.
   */
  waitForEvents(id: string, ms: number, w: Waiting): void;
  /** The queued events, oldest first, left in the queue. */
  peek(id: string): Promise<Queued[]>;
  /**
   * Removes events `peek` or `waitForEvents` returned (those still there). The Redis store keeps
   * an ack that finds Redis away and sends it when Redis is back.
   */
  ack(id: string, events: readonly Queued[]): Promise<void>;
}

/** Cluster-wide leases on names (which node runs an event source). */
export interface LeaseStore {
  /** Takes, or renews, the lease `name` for `holder` for `ttlMs`; false while another holds it. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `holder` has it. */
  releaseLease(name: string, holder: string): Promise<void>;
}

/** A publish accepted from a client and not yet queued for its receivers. */
export interface KeptPublish {
  event: Fields;
  onlineOnly: boolean;
}

/**
 * Publishes accepted and not yet fanned out, kept where another node finds them if this one
 * dies (the Redis store): a publish can then be answered before its fan-out without the risk
 * of losing it. A store without one (embedded: a dead process loses everything anyway) has each
 * publish answered after its fan-out.
 */
export interface OutboxStore {
  /** Keeps `p` until `release`; resolves once it is kept. */
  keep(p: KeptPublish): Promise<void>;
  /** `p` (as kept or adopted) was queued for every receiver: forget it. */
  release(p: KeptPublish): Promise<void>;
  /**
   * Renews this node's claim on its outbox, and takes over what nodes that stopped renewing
   * theirs left (each by one node, kept again as this node's): those publishes, to fan out and
   * release. Meant to be called every few seconds.
   */
  adopt(): Promise<KeptPublish[]>;
}

/** Connecting, readiness, counts, closing. */
export interface StoreLifecycle {
  /** Connects (Redis); resolves once the store can serve. Calling it again does nothing more. */
  start(): Promise<void>;
  /** Resolves when the store can serve (readiness); rejects with `StoreUnavailableError`. */
  ping(): Promise<void>;
  /** A store that talks to a server counts its commands and outages (metrics). */
  stats?(): StoreStats;
  /** Wakes every waiting request and disconnects. */
  close(): Promise<void>;
}

/**
 * All state of the server, by concern: `memory` (one process) and `redis` (Java's key model,
 * shared with Java nodes). Core code never sees which one runs. Every method may reject with
 * `StoreUnavailableError` (src/errors.ts) while the store cannot be reached.
 */
export interface Store extends SessionStore, SubscriptionStore, QueueStore, LeaseStore, StoreLifecycle {
  /** Where accepted publishes wait for their fan-out, when the store outlives a node. */
  readonly outbox?: OutboxStore;
  /**
   * Whether publishes to one subject arriving together should share one subscriber read and one
   * push per queue: worth it where each command is a round trip (Redis); in memory, fan-outs
   * going on side by side let the first pages of each out sooner.
   */
  readonly sharedFanOut?: boolean;
}
