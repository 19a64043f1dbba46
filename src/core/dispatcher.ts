import { isStoreUnavailable } from '../errors';
import { F } from '../protocol/constants';
import type { Fields, Queued } from '../protocol/event';
import type { Delivery, KeptPublish, OutboxStore, Store, Subscriber } from '../store/store';
import type { Logger } from '../logger';
import { NO_METRICS, type CoreMetrics } from './metrics';
import type { CoreSettings } from './settings';

/** Events that found a full queue, held back while the receiver gets time to make room. */
interface Overflow {
  events: Queued[];
  since: number;
  timer: NodeJS.Timeout;
}

export interface PublishResult {
  /** Receivers the event was queued for (or held back for, while their queue is full). */
  delivered: number;
}

/** The pages of `pages`, the next one read while the caller works on the last. */
async function* readAhead<T>(pages: AsyncIterable<T>): AsyncIterable<T> {
  const it = pages[Symbol.asyncIterator]();
  const ahead = () => {
    const p = it.next();
    // Left unread when the caller stops early; its failure is then nobody's.
    p.catch(() => undefined);
    return p;
  };
  let next = ahead();
  try {
    for (let r = await next; !r.done; r = await next) {
      next = ahead();
      yield r.value;
    }
  } finally {
    // Stopped early: the reader still cleans up (the Redis store drops ghosts at the end).
    await it.return?.(undefined);
  }
}

/** A publish to fan out. */
interface Publish {
  e: Fields;
  onlineOnly: boolean;
}

/** A publish waiting for its fan-out. */
interface Pending extends Publish {
  resolve(r: PublishResult): void;
  reject(err: unknown): void;
}

/** Resolves when `p` settles or after `ms`, whichever is first. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

function count(flags: readonly boolean[]): number {
  return flags.filter(Boolean).length;
}

/** Publishes a node answers before their fan-out, at most (then publishers wait for theirs). */
const MAX_BEHIND = 200;
/** Publishes to one subject fanned out in one run, at most. */
const MAX_RUN = 64;
/** How soon a kept publish whose fan-out met an unavailable store is tried again. */
const RETRY_MS = 1000;
/** How often a node renews its outbox and looks for those of stopped nodes, at most (and six times per publish.adopt.millis). */
const ADOPT_MS = 5000;

/** How long a publish id (`p_pubid`) is remembered: retries within it reach each receiver once. */
const PUBID_TTL_MS = 10 * 60_000;

/** How often a held-back event is offered again to a full queue. */
const OVERFLOW_RETRY_MS = 50;

/**
 * Who receives a published event, and putting it in their queues. A publish never waits on one
 * receiver (DIFF 10: Java held the publish request up to queue.write.timeout per full queue): events
 * for a full queue are held here and offered again until the receiver makes room or its
 * `queue.write.timeout.millis` runs out, when it is stopped ("bailing out", as Java does).
 */
export class Dispatcher {
  private readonly overflow = new Map<string, Overflow>();
  /** By subject: publishes waiting for the fan-out in progress to end (present while one is). */
  private readonly waiting = new Map<string, Pending[]>();
  /** By publisher (`p_from`): its last publish, when it joined its subject's queue and when it was fanned out. */
  private readonly lastOf = new Map<string, { subject: string; joined: Promise<void>; done: Promise<PublishResult> }>();
  /** Publishes answered and kept in the outbox whose fan-out has not ended (a metric too). */
  behind = 0;
  /** Publishes of stopped nodes this node took over (a metric). */
  adopted = 0;
  private adoptTimer?: NodeJS.Timeout;
  /** Kept publishes waiting to be fanned out again after the store was away. */
  private readonly retries = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly settings: CoreSettings,
    private readonly log: Logger,
    private readonly metrics: CoreMetrics = NO_METRICS,
  ) {}

  /**
   * Multicast to every session subscribed to the event's subject. On a store that shares
   * fan-outs (Redis), publishes to a subject that arrive while its subscribers are being read
   * wait for that to end, then share one read and one push per receiver (several events in one
   * command): under a flood of publishes the store does the work of a few. A publish with
   * `p_pubid` goes alone, its receivers recorded.
   */
  multicast(e: Fields, onlineOnly: boolean): Promise<PublishResult> {
    const subject = e[F.SUBJECT] ?? '';
    if (e[F.PUBID] || !this.store.sharedFanOut) return this.fanOut(subject, [{ e, onlineOnly }]).then(([delivered]) => ({ delivered }));
    return new Promise((resolve, reject) => {
      const p: Pending = { e, onlineOnly, resolve, reject };
      const waiting = this.waiting.get(subject);
      if (waiting) waiting.push(p);
      else void this.run(subject, [p]);
    });
  }

  /**
   * A client's publish: resolves once it is safe to answer. With a store that keeps an outbox,
   * that is once the publish is kept there, and its fan-out goes on after the answer (a node that
   * dies leaves it to another); otherwise, with more than MAX_BEHIND publishes still being
   * fanned out, or with a `p_pubid` (whose retries must see what was queued), after the fan-out.
   * Either way one publisher's events reach each receiver in the order they were accepted (DIFF 22).
   */
  async accept(e: Fields, onlineOnly: boolean): Promise<void> {
    const outbox = this.store.outbox;
    const kept: KeptPublish = { event: e, onlineOnly };
    const wait = this.settings.publishAnswerMillis;
    if (!outbox || e[F.PUBID] || !this.settings.publishAnswerEarly || this.behind >= MAX_BEHIND) {
      await this.inOrder(kept);
      return;
    }
    // Kept while the fan-out starts; not kept, the client is told to retry (503), and a fan-out
    // that went out anyway makes a duplicate at most.
    const keeping = outbox.keep(kept);
    const fanned = this.inOrder(kept);
    await keeping.catch((err: unknown) => {
      fanned.catch(() => undefined);
      throw err;
    });
    this.settle(outbox, kept, fanned);
    await within(fanned, wait);
  }

  /**
   * Multicasts `p` once the publisher's previous publish has joined its subject's queue (same
   * subject: the queue keeps the order) or, to another subject, is fanned out.
   */
  private inOrder(p: KeptPublish): Promise<PublishResult> {
    const from = p.event[F.FROM] ?? '';
    const subject = p.event[F.SUBJECT] ?? '';
    const last = this.lastOf.get(from);
    const after = last ? (last.subject === subject ? last.joined : last.done.then(() => undefined, () => undefined)) : undefined;
    const joined = after ?? Promise.resolve();
    const done = after ? after.then(() => this.multicast(p.event, p.onlineOnly)) : this.multicast(p.event, p.onlineOnly);
    const mine = { subject, joined, done };
    this.lastOf.set(from, mine);
    const forget = () => { if (this.lastOf.get(from) === mine) this.lastOf.delete(from); };
    done.then(forget, forget);
    return done;
  }

  /**
   * Releases a kept publish once fanned out; while the store is away, fans it out again later
   * (still counted behind, so `drain` waits for it).
   */
  private settle(outbox: OutboxStore, kept: KeptPublish, fanned: Promise<PublishResult>): void {
    this.behind++;
    fanned.then(
      () => {
        this.behind--;
        outbox.release(kept).catch((err) => this.log.debug({ err: String(err) }, 'releasing a fanned-out publish failed; it may be fanned out again'));
      },
      (err) => {
        if (!isStoreUnavailable(err) || this.closed) {
          this.behind--;
          // A bug is logged with its stack; either way the publish stays kept for a node that adopts it.
          if (!isStoreUnavailable(err)) this.log.error({ err }, 'fanning out an accepted publish failed');
          return;
        }
        const retry = setTimeout(() => {
          this.retries.delete(retry);
          this.behind--;
          this.settle(outbox, kept, this.inOrder(kept));
        }, RETRY_MS);
        this.retries.add(retry);
      },
    );
  }

  /** Takes over, every few seconds, the publishes of nodes that died before fanning them out. */
  start(): void {
    const outbox = this.store.outbox;
    if (!outbox || this.adoptTimer) return;
    this.adoptTimer = setInterval(() => {
      outbox.adopt().then(
        (publishes) => {
          if (publishes.length) this.log.info({ publishes: publishes.length }, 'fanning out publishes a stopped node had accepted');
          this.adopted += publishes.length;
          for (const p of publishes) this.settle(outbox, p, this.inOrder(p));
        },
        (err) => { if (!isStoreUnavailable(err)) this.log.warn({ err }, 'adopting the publishes of stopped nodes failed'); },
      );
    }, Math.min(ADOPT_MS, Math.max(100, this.settings.publishAdoptMillis / 6)));
    this.adoptTimer.unref();
  }

  /** Resolves once the publishes accepted here are fanned out, or after `ms`. */
  async drain(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.behind > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /**
   * Fans `batch` out, then the publishes that arrived meanwhile (`rest` first), until none is
   * left; a long backlog goes out in runs of at most MAX_RUN.
   */
  private async run(subject: string, batch: Pending[], rest: Pending[] = []): Promise<void> {
    this.waiting.set(subject, rest);
    try {
      const counts = await this.fanOut(subject, batch);
      batch.forEach((p, i) => p.resolve({ delivered: counts[i] }));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
    const next = this.waiting.get(subject) ?? [];
    if (next.length === 0) this.waiting.delete(subject);
    else void this.run(subject, next.splice(0, MAX_RUN), next);
  }

  /** Queues each of `publishes` for the subscribers of `subject`, read once; how many each reached. */
  private async fanOut(subject: string, publishes: readonly Publish[]): Promise<number[]> {
    const counts = publishes.map(() => 0);
    const now = Date.now();
    for await (const page of readAhead(this.store.subscribersOf(subject))) {
      const batch: Delivery[] = [];
      const of: number[] = [];
      for (const sub of page) {
        if (!sub.online && publishes.every((p) => p.onlineOnly)) continue;
        if (this.pullClientGone(sub, now)) {
          this.bailOut(sub.id, 0, 'pull client did not come back');
          continue;
        }
        publishes.forEach((p, i) => {
          if (p.onlineOnly && !sub.online) return;
          batch.push({ id: sub.id, q: { event: p.e, sid: sub.subject, label: sub.label } });
          of.push(i);
        });
      }
      (await this.deliver(batch)).forEach((queued, k) => queued && counts[of[k]]++);
    }
    for (const n of counts) this.metrics.published(n);
    return counts;
  }

  /** Unicast (`p_to`): to one session; nothing happens for an unknown id. */
  async unicast(e: Fields, to: string, onlineOnly: boolean): Promise<PublishResult> {
    const rec = await this.store.getSession(to);
    const delivered = !rec || (onlineOnly && !rec.online) ? 0 : count(await this.deliver([{ id: to, q: { event: e } }]));
    this.metrics.published(delivered);
    return { delivered };
  }

  /** To every session, whatever it subscribed to (library API). */
  async broadcast(e: Fields): Promise<PublishResult> {
    let delivered = 0;
    for await (const ids of this.store.sessionIds()) {
      delivered += count(await this.deliver(ids.map((id) => ({ id, q: { event: e } }))));
    }
    this.metrics.published(delivered);
    return { delivered };
  }

  /**
   * A temporary pull/poll session that has not come back for its refresh timeout is gone
   * (Java stops it when an event arrives for it). Persistent ones keep queueing while away.
   */
  private pullClientGone(sub: Subscriber, now: number): boolean {
    if (!sub.temporary || sub.lastSeen === undefined) return false;
    const timeout =
      sub.mode === 'pull' ? this.settings.pullRefreshTimeoutMillis
      : sub.mode === 'poll' ? this.settings.pollRefreshTimeoutMillis
      : 0;
    return timeout > 0 && now - sub.lastSeen > timeout + this.settings.queueReadTimeoutMillis;
  }

  /**
   * Queues a batch; for each delivery, whether it was queued (or held back for a full queue).
   * An event with a `p_pubid` (a batch of one publish) skips receivers that publish id was
   * already queued for (a retry).
   */
  private async deliver(all: Delivery[]): Promise<boolean[]> {
    const pubid = all[0]?.q.event[F.PUBID];
    let batch = all;
    if (pubid) {
      const fresh = new Set(await this.store.notQueuedYet(pubid, all.map((d) => d.id)));
      batch = all.filter((d) => fresh.has(d.id));
    }
    // Behind events already held back for a session, a new one waits its turn.
    const direct = batch.filter((d) => !this.hold(d.id, d.q));
    const results = direct.length ? await this.store.enqueue(direct) : [];
    const gone = new Set<string>();
    results.forEach((r, i) => {
      if (r === 'gone') gone.add(direct[i].id);
      else if (r === 'full') this.startOverflow(direct[i].id, direct[i].q);
    });
    const queued = new Set(batch.filter((d) => !gone.has(d.id)));
    if (pubid) await this.store.markQueued(pubid, [...queued].map((d) => d.id), PUBID_TTL_MS);
    return all.map((d) => queued.has(d));
  }

  /** Appends to an existing overflow; false when the session has none. */
  private hold(id: string, q: Queued): boolean {
    const o = this.overflow.get(id);
    if (!o) return false;
    o.events.push(q);
    if (o.events.length > this.settings.queueSize) this.bailOut(id, o.events.length, 'overflow exceeds queue.size');
    return true;
  }

  private startOverflow(id: string, q: Queued): void {
    if (this.hold(id, q)) return;
    const o: Overflow = {
      events: [q],
      since: Date.now(),
      timer: setInterval(() => void this.retry(id, o), OVERFLOW_RETRY_MS),
    };
    o.timer.unref();
    this.overflow.set(id, o);
  }

  private async retry(id: string, o: Overflow): Promise<void> {
    try {
      while (o.events.length) {
        const [r] = await this.store.enqueue([{ id, q: o.events[0] }]);
        if (r === 'gone') { this.clearOverflow(id); return; }
        if (r === 'full') break;
        o.events.shift();
      }
    } catch (err) {
      // An outage is logged once by the store; anything else is a bug worth its stack.
      if (isStoreUnavailable(err)) this.log.debug({ session: id, reason: err.message }, 'retrying a held-back event failed');
      else this.log.warn({ err, session: id }, 'retrying a held-back event failed');
    }
    if (o.events.length === 0) this.clearOverflow(id);
    else if (Date.now() - o.since >= this.settings.queueWriteTimeoutMillis) {
      this.bailOut(id, o.events.length, 'queue full for queue.write.timeout.millis');
    }
  }

  private clearOverflow(id: string): void {
    const o = this.overflow.get(id);
    if (o) clearInterval(o.timer);
    this.overflow.delete(id);
  }

  /**
   * Stops a receiver that cannot keep up ("bailing out", as Java does): its events are dropped
   * (counted), one line logged, the session stopped (a persistent one stays, offline).
   */
  bailOut(id: string, dropped: number, why: string): void {
    this.clearOverflow(id);
    this.metrics.stopped(dropped);
    this.log.warn({ session: id, dropped }, `stopping session: ${why}`);
    this.store.stopSession(id).catch((err) => this.log.warn({ err, session: id }, 'stopping a session failed'));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.adoptTimer);
    for (const t of this.retries) clearTimeout(t);
    this.behind -= this.retries.size;
    this.retries.clear();
    for (const id of [...this.overflow.keys()]) this.clearOverflow(id);
  }
}
