import type { Format, Mode } from '../protocol/constants';
import type { Queued } from '../protocol/event';

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
}

export type EnqueueResult = 'ok' | 'full' | 'gone';

export interface Delivery {
  id: string;
  q: Queued;
}

/**
 * All state of the server, behind one async interface: `memory` (one process) and `redis`
 * (Java's key model, shared with Java nodes). Core code never sees which one runs.
 */
export interface Store {
  /** Connects (Redis); resolves once the store can serve. */
  start(): Promise<void>;

  /** Creates the session, or re-opens a persistent one keeping its subscriptions and queue. */
  openSession(rec: NewSession, leaseMs: number): Promise<void>;
  getSession(id: string): Promise<SessionRec | null>;
  /** Renews the lease and records what the request tells of the client. */
  kick(id: string, leaseMs: number, patch?: { address?: string; mode?: Mode }): Promise<void>;
  /**
   * Ends a session. Temporary (`keepState` false): everything of it is deleted. Persistent: it
   * stays with its subscriptions and queue, offline, until a request or re-join renews it.
   */
  stopSession(id: string, keepState: boolean): Promise<void>;

  subscribe(id: string, subject: string, label?: string): Promise<Subscription>;
  /** With `sid`: that subscription, or null when there is none. Without: all of them. */
  unsubscribe(id: string, sid?: string): Promise<Subscription[] | null>;
  /**
   * Sessions subscribed under any of `parts` (single subjects, as `p:zset:sj:<s>`), in pages.
   * A session may come more than once (under several parts); callers keep the first.
   */
  subscribersOf(parts: readonly string[]): AsyncIterable<Subscriber[]>;

  /** Appends to the sessions' queues (capacity per queue); `gone` when a session is missing. */
  enqueue(deliveries: readonly Delivery[], capacity: number): Promise<EnqueueResult[]>;
  /**
   * Of `ids`, those the publish `pubid` (a publisher's `p_pubid`) was not yet queued for, as
   * `markQueued` recorded it: a retried publish skips receivers that already have it.
   */
  notQueuedYet(pubid: string, ids: readonly string[]): Promise<string[]>;
  /** Records that the publish `pubid` was queued for `ids`, for `ttlMs`. */
  markQueued(pubid: string, ids: readonly string[], ttlMs: number): Promise<void>;

  /**
   * The queued events, oldest first, left in the queue: an event leaves it only by `ack`, once
   * it was written to the client, so a node that dies while writing loses nothing.
   */
  peek(id: string): Promise<Queued[]>;
  /** Removes events a `peek` returned (those still there). */
  ack(id: string, events: readonly Queued[]): Promise<void>;
  /**
   * Resolves when the queue of `id` has events, the session stopped, `ms` passed or `signal`
   * aborted, whichever is first. Woken by enqueues from any node.
   */
  waitForEvents(id: string, ms: number, signal?: AbortSignal): Promise<void>;

  /**
   * One aging pass: counts down leases and returns the online sessions whose lease ran out
   * (each returned once, by one node). The caller stops them.
   */
  expiredSessions(now: number): Promise<SessionRec[]>;

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
  /** The subject strings `id` subscribed to (each its `p_sid`: `/a` or `/a,/b`). */
  subscribedSubjects(id: string): Promise<string[]>;
  /** Every session id, in pages (for broadcasts). */
  sessionIds(): AsyncIterable<string[]>;

  /** Takes, or renews, the cluster-wide lease `name` for `holder`; false while another holds it. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;

  /** Resolves when the store can serve (readiness). */
  ping(): Promise<void>;
  /** A store that talks to a server counts its commands (for metrics). */
  stats?(): StoreStats;

  close(): Promise<void>;
}
