/** Key and field names of the Java key model (docs/PROTOCOL.md section 11), in one place. */

/** Every session id; score = creation time ms. */
export const ALL_SESSIONS = 'p:zset:as';
export const SESSION_PREFIX = 'p:ss:';
export const QUEUE_PREFIX = 'p:eq:';

/** Session hash: userAgent, createDate, temporary, timeToLive, address, format. */
export const session = (id: string): string => SESSION_PREFIX + id;
/** Listen state hash: mode. */
export const listenState = (id: string): string => `p:sr:${id}`;
/** Subscriptions of a session: subscribed subject string -> {"subject":..,"label":..}. */
export const subscriptions = (id: string): string => `p:sc:${id}`;
/** Sessions listed under one subject: session id -> the full subscribed subject string. */
export const subjectSessions = (subject: string): string => `p:sj:${subject}`;
/** Sessions listed under one subject; score = ms when subscribed. */
export const subjectIndex = (subject: string): string => `p:zset:sj:${subject}`;
/** Event queue of a session: JSON objects, newest at the head (LPUSH). */
export const queue = (id: string): string => QUEUE_PREFIX + id;

/** Fields of `p:ss:<id>`; the last three are ours (Java ignores unknown fields). */
export const SS = {
  USER_AGENT: 'userAgent',
  CREATE_DATE: 'createDate',
  TEMPORARY: 'temporary',
  TIME_TO_LIVE: 'timeToLive',
  ADDRESS: 'address',
  FORMAT: 'format',
  /** Java's aging lock: ms when a node started aging the session. */
  AGING_TIME: 'AgingTime',
  /** ms of the last request or data-channel round (ours). */
  LAST_SEEN: 'lastSeen',
  /**
   * timeToLive as our nodes last wrote it (ours). When it differs, a Java node has renewed or
   * aged the session since, so lastSeen no longer tells when the client was last there.
   */
  OWN_TIME_TO_LIVE: 'ownTimeToLive',
  /** ms of the last aging pass that counted this session down (ours). */
  LAST_AGED: 'lastAged',
} as const;

/** Field of `p:sr:<id>`. */
export const SR_MODE = 'mode';

/** Pub/sub channel our nodes use to wake each other; not a key, no `p:` prefix. */
export const WAKE_CHANNEL = 'pushlet:wake';

/** Whom a publish with `p_pubid` was queued for (a set, expiring); ours, outside Java's `p:` keys. */
export const publishRecord = (pubid: string): string => `pushlet:pub:${pubid}`;

/** A cluster-wide lease (e.g. which node runs an event source); ours, outside Java's `p:` keys. */
export const lease = (name: string): string => `pushlet:lease:${name}`;

/** Publishes a node accepted and has not fanned out yet (a list of JSON); ours, outside Java's `p:` keys. */
export const outbox = (node: string): string => `pushlet:outbox:${node}`;
/** Every node's outbox: node -> ms when that node last renewed it. */
export const OUTBOXES = 'pushlet:outboxes';
