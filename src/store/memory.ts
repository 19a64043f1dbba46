import type { Format, Mode } from '../protocol/constants';
import type { Queued } from '../protocol/event';
import { subjectKeys, subjectParts } from '../protocol/subject';
import { wheel, type Timed } from '../timer-wheel';
import { intern } from '../intern';
import {
  DEFAULT_STORE_SETTINGS, type Delivery, type EnqueueResult, type NewSession, type SessionPatch, type SessionRec, type Store,
  type StoreSettings, type Subscriber, type Subscription, type Waiting,
} from './store';

/**
 * A session as the embedded store holds it: one object of fixed shape, with what most sessions
 * never use left out until used, so that an idle session costs a few hundred bytes.
 */
class MemSession {
  mode?: Mode = undefined;
  active = true;
  /**
   * Its subscriptions by subject: the only one as it is (its subject alone when it has no label),
   * a Map from the second on.
   */
  subs: string | Subscription | Map<string, Subscription> | undefined = undefined;
  queue: Queued[] | undefined = undefined;
  /** Its waiting requests: usually one, held as it is; an array from the second on. */
  waiters: Waiter | Waiter[] | undefined = undefined;

  constructor(
    readonly id: string,
    public format: Format,
    public temporary: boolean,
    public createDate: number,
    public userAgent: string,
    public address: string,
    public expiresAt: number,
    public lastSeen: number,
  ) {}

  sub(subject: string): Subscription | undefined {
    const subs = this.subs;
    if (typeof subs === 'string') return subs === subject ? { subject } : undefined;
    if (subs instanceof Map) return subs.get(subject);
    return subs?.subject === subject ? subs : undefined;
  }

  /** Whether it is subscribed to `subject`, without making a Subscription. */
  has(subject: string): boolean {
    const subs = this.subs;
    if (typeof subs === 'string') return subs === subject;
    if (subs instanceof Map) return subs.has(subject);
    return subs?.subject === subject;
  }

  /** The label of its subscription to `subject`. */
  label(subject: string): string | undefined {
    const subs = this.subs;
    return typeof subs === 'string' ? undefined : subs instanceof Map ? subs.get(subject)?.label : subs?.label;
  }

  allSubs(): Subscription[] {
    const subs = this.subs;
    if (typeof subs === 'string') return [{ subject: subs }];
    return subs instanceof Map ? [...subs.values()] : subs ? [subs] : [];
  }

  addSub(sub: Subscription): void {
    const subs = this.subs;
    if (subs === undefined || (!(subs instanceof Map) && this.has(sub.subject))) this.subs = sub.label === undefined ? sub.subject : sub;
    else if (subs instanceof Map) subs.set(sub.subject, sub);
    else {
      const first: Subscription = typeof subs === 'string' ? { subject: subs } : subs;
      this.subs = new Map([[first.subject, first], [sub.subject, sub]]);
    }
  }

  addWaiter(w: Waiter): void {
    const ws = this.waiters;
    this.waiters = ws === undefined ? w : Array.isArray(ws) ? [...ws, w] : [ws, w];
  }

  /** Whether `w` was waiting. */
  removeWaiter(w: Waiter): boolean {
    const ws = this.waiters;
    if (ws === w) this.waiters = undefined;
    else if (Array.isArray(ws) && ws.includes(w)) this.waiters = ws.length === 2 ? ws.find((x) => x !== w) : ws.filter((x) => x !== w);
    else return false;
    return true;
  }

  removeSub(subject: string): void {
    const subs = this.subs;
    if (subs instanceof Map) {
      subs.delete(subject);
      if (subs.size === 1) {
        const last = subs.values().next().value!;
        this.subs = last.label === undefined ? last.subject : last;
      }
    } else if (this.has(subject)) this.subs = undefined;
  }
}

/** A request waiting for a session's events: in the timer wheel for its timeout, and on its Cancel. */
class Waiter implements Timed {
  slot = -1;

  constructor(private readonly s: MemSession, private readonly w: Waiting) {}

  /** Ends the wait: events came, the session stopped, the time ran out or the request went. */
  expire(): void {
    wheel.remove(this);
    this.w.onCancel(undefined);
    if (this.s.removeWaiter(this)) this.w.woken(queued(this.s));
  }
}

/** A copy of an active session's queue, as `peek` gives it; undefined when empty or stopped (then `peek` tells). */
function queued(s: MemSession): Queued[] | undefined {
  return s.active && s.queue !== undefined ? s.queue.slice() : undefined;
}

/** Sessions whose waiters one turn of the event loop wakes. */
const WAKE_BATCH = 500;

/** The embedded store: all state in this process, for a single server. */
export class MemoryStore implements Store {
  private readonly sessions = new Map<string, MemSession>();
  /** subject part -> session id -> full subscribed subject string (as `p:sj:<s>`). */
  private readonly bySubject = new Map<string, Map<string, string>>();

  /** Publish ids (`p_pubid`) and whom they were queued for, oldest first. */
  private readonly publishes = new Map<string, { ids: Set<string>; until: number }>();

  private readonly settings: StoreSettings;

  constructor(settings: Partial<StoreSettings> = {}) {
    this.settings = { ...DEFAULT_STORE_SETTINGS, pageSize: 1000, ...settings };
  }

  private rec(s: MemSession, now = Date.now()): SessionRec {
    return {
      id: s.id, format: s.format, temporary: s.temporary, createDate: s.createDate,
      userAgent: s.userAgent, address: s.address, mode: s.mode, lastSeen: s.lastSeen,
      online: s.active && s.expiresAt > now,
    };
  }

  async start(): Promise<void> {}

  async openSession(rec: NewSession): Promise<void> {
    const now = Date.now();
    const expiresAt = now + this.settings.leaseMs;
    const userAgent = intern(rec.userAgent);
    const address = intern(rec.address);
    const old = this.sessions.get(rec.id);
    if (old) {
      Object.assign(old, { format: rec.format, temporary: rec.temporary, createDate: rec.createDate, userAgent, address, active: true, expiresAt, lastSeen: now });
      return;
    }
    this.sessions.set(rec.id, new MemSession(rec.id, rec.format, rec.temporary, rec.createDate, userAgent, address, expiresAt, now));
  }

  async getSession(id: string): Promise<SessionRec | null> {
    const s = this.sessions.get(id);
    return s ? this.rec(s) : null;
  }

  async touch(id: string, patch?: SessionPatch, revive = true): Promise<SessionRec | null> {
    const s = this.sessions.get(id);
    if (!s) return null;
    const rec = this.rec(s);
    if (rec.online || revive) this.renew(s, patch);
    return rec;
  }

  async kick(id: string, patch?: SessionPatch): Promise<void> {
    const s = this.sessions.get(id);
    if (s) this.renew(s, patch);
  }

  private renew(s: MemSession, patch?: SessionPatch): void {
    const now = Date.now();
    s.active = true;
    s.expiresAt = now + this.settings.leaseMs;
    s.lastSeen = now;
    if (patch?.address !== undefined && patch.address !== s.address) s.address = intern(patch.address);
    if (patch?.mode !== undefined) s.mode = patch.mode;
  }

  async stopSession(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (s) this.stop(s);
  }

  private stop(s: MemSession): void {
    s.active = false;
    if (s.temporary) {
      for (const sub of s.allSubs()) this.unlist(s.id, sub.subject);
      this.sessions.delete(s.id);
    }
    this.wake(s);
  }

  async subscribe(id: string, subject: string, label?: string): Promise<Subscription> {
    const s = this.sessions.get(id);
    subject = intern(subject);
    const sub: Subscription = label === undefined ? { subject } : { subject, label: intern(label) };
    if (!s) return sub;
    s.addSub(sub);
    for (const p of subjectParts(subject)) {
      let m = this.bySubject.get(p);
      if (!m) this.bySubject.set(p, (m = new Map()));
      m.set(id, subject);
    }
    return sub;
  }

  async unsubscribe(id: string, sid?: string): Promise<Subscription[] | null> {
    const s = this.sessions.get(id);
    if (!s) return sid === undefined ? [] : null;
    const one = sid === undefined ? undefined : s.sub(sid);
    const removed = sid === undefined ? s.allSubs() : one ? [one] : null;
    if (!removed) return null;
    for (const sub of removed) {
      s.removeSub(sub.subject);
      this.unlist(id, sub.subject);
    }
    return removed;
  }

  private unlist(id: string, subject: string): void {
    for (const p of subjectParts(subject)) {
      const m = this.bySubject.get(p);
      // Another subscription of the same session may list it under this part too.
      if (m && m.get(id) === subject) {
        m.delete(id);
        if (m.size === 0) this.bySubject.delete(p);
      }
    }
  }

  async *subscribersOf(subject: string): AsyncIterable<Subscriber[]> {
    const now = Date.now();
    const seen = new Set<string>();
    let page: Subscriber[] = [];
    for (const p of subjectKeys(subject, this.settings.subjectMatch)) {
      const m = this.bySubject.get(p);
      if (!m) continue;
      for (const [id, listed] of m) {
        const s = this.sessions.get(id);
        if (!s || !s.has(listed) || seen.has(id)) continue;
        seen.add(id);
        page.push({
          id, subject: listed, label: s.label(listed), online: s.active && s.expiresAt > now,
          mode: s.mode, lastSeen: s.lastSeen, temporary: s.temporary,
        });
        if (page.length >= this.settings.pageSize) { yield page; page = []; }
      }
    }
    if (page.length) yield page;
  }

  async enqueue(deliveries: readonly Delivery[]): Promise<EnqueueResult[]> {
    return deliveries.map(({ id, q }) => {
      const s = this.sessions.get(id);
      if (!s) return 'gone';
      const queue = (s.queue ??= []);
      if (queue.length >= this.settings.queueSize) return 'full';
      queue.push(q);
      this.wake(s);
      return 'ok';
    });
  }

  async notQueuedYet(pubid: string, ids: readonly string[]): Promise<string[]> {
    const p = this.publishes.get(pubid);
    if (!p || p.until <= Date.now()) return [...ids];
    return ids.filter((id) => !p.ids.has(id));
  }

  async markQueued(pubid: string, ids: readonly string[], ttlMs: number): Promise<void> {
    const now = Date.now();
    // Expired records go when new ones come: the map holds the publishes of the last ttlMs.
    for (const [k, p] of this.publishes) {
      if (p.until > now) break;
      this.publishes.delete(k);
    }
    let p = this.publishes.get(pubid);
    if (!p || p.until <= now) {
      this.publishes.delete(pubid);
      this.publishes.set(pubid, (p = { ids: new Set(), until: now + ttlMs }));
    }
    for (const id of ids) p.ids.add(id);
  }

  async peek(id: string): Promise<Queued[]> {
    return this.sessions.get(id)?.queue?.slice() ?? [];
  }

  async ack(id: string, events: readonly Queued[]): Promise<void> {
    const s = this.sessions.get(id);
    const queue = s?.queue;
    if (!queue) return;
    // Usually what was peeked is all of the queue, or its head: dropped without a copy.
    if (events.length === queue.length && events.every((q, i) => queue[i] === q)) s!.queue = undefined;
    else if (events.every((q, i) => queue[i] === q)) queue.splice(0, events.length);
    else {
      const done = new Set(events);
      s!.queue = queue.filter((q) => !done.has(q));
    }
  }

  /** Tells what `peek` would give while the session is active: the channel need not ask again. */
  waitForEvents(id: string, ms: number, w: Waiting): void {
    const s = this.sessions.get(id);
    if (!s || !s.active || s.queue !== undefined || ms <= 0 || w.cancelled) {
      const found = s && queued(s);
      return queueMicrotask(() => w.woken(found));
    }
    const waiter = new Waiter(s, w);
    s.addWaiter(waiter);
    wheel.add(waiter, ms);
    w.onCancel(waiter);
  }

  /** Sessions with waiters to wake once the current request has been answered. */
  private readonly toWake = new Set<MemSession>();

  /**
   * Wakes a session's waiting requests on the next turn of the event loop, not at once: a
   * publish to thousands of sessions is answered first, and their responses are written after.
   */
  private wake(s: MemSession): void {
    if (s.waiters === undefined) return;
    if (this.toWake.size === 0) setImmediate(() => this.wakeSome());
    this.toWake.add(s);
  }

  /**
   * Wakes at most WAKE_BATCH sessions, and the rest on the next turn: the answers of one batch
   * are written, and their garbage dies young, before the next batch is made. Ten thousand
   * answers made in one turn would all be alive at once and copied by every scavenge.
   */
  private wakeSome(): void {
    let n = 0;
    for (const s of this.toWake) {
      if (n++ >= WAKE_BATCH) break;
      this.toWake.delete(s);
      const ws = s.waiters;
      // A copy: each waiter takes itself off the session.
      if (Array.isArray(ws)) for (const w of [...ws]) w.expire();
      else ws?.expire();
    }
    if (this.toWake.size > 0) setImmediate(() => this.wakeSome());
  }

  async expire(now: number): Promise<SessionRec[]> {
    const out: SessionRec[] = [];
    for (const s of this.sessions.values()) {
      if (s.active && s.expiresAt <= now) {
        out.push(this.rec(s, now));
        this.stop(s);
      }
    }
    return out;
  }

  async reclaim(max: number): Promise<number> {
    const now = Date.now();
    let freed = 0;
    // A Map iterates in insertion order: oldest first.
    for (const s of this.sessions.values()) {
      if (freed >= max) break;
      if ((s.active && s.expiresAt > now) || s.waiters !== undefined) continue;
      for (const sub of s.allSubs()) this.unlist(s.id, sub.subject);
      this.sessions.delete(s.id);
      freed++;
    }
    return freed;
  }

  async countSessions(): Promise<number> {
    return this.sessions.size;
  }

  async subscribedSubjects(id: string): Promise<string[]> {
    return this.sessions.get(id)?.allSubs().map((sub) => sub.subject) ?? [];
  }

  async *sessionIds(): AsyncIterable<string[]> {
    const ids = [...this.sessions.keys()];
    for (let i = 0; i < ids.length; i += this.settings.pageSize) yield ids.slice(i, i + this.settings.pageSize);
  }

  /** One process holds every lease. */
  async acquireLease(): Promise<boolean> {
    return true;
  }

  async releaseLease(): Promise<void> {}

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    for (const s of this.sessions.values()) this.wake(s);
  }
}
