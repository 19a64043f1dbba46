/** Value encodings of the Java key model: what a Java node writes and reads back. */
import { DEFAULT_FORMAT, F, isFormat, isMode } from '../../protocol/constants';
import type { Fields, Queued } from '../../protocol/event';
import type { SessionRec, Subscription } from '../store';
import { SS } from './keys';

/**
 * A queued event as Java stores it in `p:eq:<id>`: one JSON object of string fields with the
 * receiver's p_sid (and, ours only, p_label); never p_seq.
 */
export function encodeQueued(q: Queued): string {
  let shared = sharedJson.get(q.event);
  if (shared === undefined) {
    const rest: Fields = Object.assign(Object.create(null), q.event);
    delete rest[F.SID];
    delete rest[F.LABEL];
    shared = JSON.stringify(rest);
    sharedJson.set(q.event, shared);
  }
  let own = '';
  const sid = q.sid ?? q.event[F.SID];
  const label = q.label ?? q.event[F.LABEL];
  if (sid !== undefined) own += `,${JSON.stringify(F.SID)}:${JSON.stringify(sid)}`;
  if (label !== undefined) own += `,${JSON.stringify(F.LABEL)}:${JSON.stringify(label)}`;
  if (own === '') return shared;
  return shared === '{}' ? `{${own.slice(1)}}` : shared.slice(0, -1) + own + '}';
}

/** A published event's fields as JSON, made once for all its receivers. */
const sharedJson = new WeakMap<Fields, string>();

/** Reads an event queued by any node; a value that is not a JSON object becomes an empty event. */
export function decodeQueued(json: string): Queued {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    parsed = null;
  }
  const event: Fields = Object.create(null);
  const q: Queued = { event };
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return q;
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    if (k === F.SID) q.sid = s;
    else if (k === F.LABEL) q.label = s;
    else event[k] = s;
  }
  return q;
}

/** `p:sc:<id>` value: `{"subject":"/a,/b","label":null}`. */
export function encodeSubscription(sub: Subscription): string {
  return JSON.stringify({ subject: sub.subject, label: sub.label ?? null });
}

/** Reads a `p:sc:<id>` entry; the field (the subject string) stands in for a broken value. */
export function decodeSubscription(subject: string, json: string): Subscription {
  try {
    const v = JSON.parse(json) as { label?: unknown };
    if (typeof v?.label === 'string') return { subject, label: v.label };
  } catch {
    // Fall through: a value we cannot read still names the subscription.
  }
  return { subject };
}

/** A hash from HGETALL's raw reply, a flat field/value list. */
export function hashOf(flat: readonly string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]] = flat[i + 1];
  return h;
}

/** A number field of a hash, or undefined when missing or not a number. */
export function num(v: string | null | undefined): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * lastSeen when it can be trusted: only while timeToLive is what our nodes last wrote (a Java
 * node renewing the lease does not update lastSeen).
 */
export function trustedLastSeen(lastSeen: string | null | undefined, ttl: string | null | undefined, ownTtl: string | null | undefined): number | undefined {
  return ttl !== null && ttl !== undefined && ttl === ownTtl ? num(lastSeen) : undefined;
}

/** Whether a session's lease is running: Java's timeToLive > 0. */
export function isOnline(timeToLive: string | null | undefined): boolean {
  return (num(timeToLive) ?? 0) > 0;
}

/** A session from its `p:ss:<id>` hash and `p:sr:<id>` mode; null when the hash is empty. */
export function decodeSession(id: string, h: Record<string, string>, mode: string | null): SessionRec | null {
  if (!h || Object.keys(h).length === 0) return null;
  const format = h[SS.FORMAT];
  const rec: SessionRec = {
    id,
    format: isFormat(format) ? format : DEFAULT_FORMAT,
    temporary: h[SS.TEMPORARY] !== 'false',
    createDate: num(h[SS.CREATE_DATE]) ?? 0,
    userAgent: h[SS.USER_AGENT] ?? '',
    address: h[SS.ADDRESS] ?? '',
    online: isOnline(h[SS.TIME_TO_LIVE]),
  };
  if (mode !== null && isMode(mode)) rec.mode = mode;
  const lastSeen = trustedLastSeen(h[SS.LAST_SEEN], h[SS.TIME_TO_LIVE], h[SS.OWN_TIME_TO_LIVE]);
  if (lastSeen !== undefined) rec.lastSeen = lastSeen;
  return rec;
}
