import { E, F, type Mode } from '../protocol/constants';
import { event, type Fields, type Queued } from '../protocol/event';
import { escaper } from '../protocol/formats/writer';
import { StoreUnavailableError, isStoreUnavailable } from '../errors';
import type { Cancel, Store, Waiting } from '../store/store';
import { wheel, type Timed } from '../timer-wheel';
import { NO_METRICS, type CoreMetrics } from './metrics';
import type { Round, Rounds } from './rounds';
import type { CoreSettings } from './settings';

/**
 * Where the data channel writes: the open HTTP response. Its Cancel is cancelled when the
 * client goes away or the server shuts down.
 */
export interface Sink extends Cancel {
  /** Adds one event to the answer; false when the client has gone away. */
  write(e: Fields, own?: Fields): boolean;
  /** Characters written and not yet taken by the socket (a pull answer: all of it until `flush`). */
  readonly unsent: number;
  /**
   * Hands what was written to the socket; a pull or poll answer ends with it. True once the
   * socket took the last byte; false when the connection failed or did not take it within `ms`
   * (the connection is then closed).
   */
  flush(ms: number): Promise<boolean>;
  /** Whether the server is shutting down: the client is sent a refresh, to come back elsewhere. */
  readonly draining: boolean;
  /** The request path, for the refresh event's `p_url`. */
  readonly path: string;
}

/** What every data channel of a server shares. */
export interface ChannelDeps {
  store: Store;
  settings: CoreSettings;
  rounds: Rounds;
  metrics?: CoreMetrics;
  /**
   * Stops a session whose stream client stopped reading (its output stayed full for
   * `queue.write.timeout.millis`), as a full queue stops it; `dropped` events were still queued.
   */
  stopReceiver(id: string, dropped: number, why: string): void;
  /** Whether the session left by its own `leave` (on this node) lately. */
  hasLeft(id: string): boolean;
}

export interface ChannelRequest {
  id: string;
  mode: Mode;
  /** true right after a (join-)listen-ack: pull/poll clients are sent straight back to refresh. */
  afterListen: boolean;
  /** The store was away when the request came: hold it, then a heartbeat, touching nothing. */
  outage?: boolean;
}

/** Characters kept as they are in `p_url` (Java puts the id in raw; ids like `-1a:2b:-8000`). */
const urlId = escaper(/[^\w\-.~:!*'()@$,;]/gu, (c) => encodeURIComponent(c));

export function refreshEvent(s: CoreSettings, mode: Mode, path: string, id: string): Fields {
  const [min, max] = mode === 'poll'
    ? [s.pollRefreshWaitMinMillis, s.pollRefreshWaitMaxMillis]
    : [s.pullRefreshWaitMinMillis, s.pullRefreshWaitMaxMillis];
  return event(E.REFRESH, {
    // Spreads clients' returns; not a secret, so Math.random (crypto's randomInt costs a microsecond).
    [F.WAIT]: min + Math.floor(Math.random() * (max - min + 1)),
    [F.URL]: `${path}?${F.ID}=${urlId(id)}&${F.EVENT}=${E.REFRESH}`,
  });
}

/** A pause through a store outage: ends after `ms`, or when the request is cancelled. */
class Pause implements Timed {
  slot = -1;
  constructor(private readonly cancel: Cancel, private readonly resolve: () => void) {}
  expire(): void {
    wheel.remove(this);
    this.cancel.onCancel(undefined);
    this.resolve();
  }
}

function pause(ms: number, cancel: Cancel): Promise<void> {
  if (ms <= 0 || cancel.cancelled) return Promise.resolve();
  return new Promise((resolve) => {
    const p = new Pause(cancel, resolve);
    wheel.add(p, ms);
    cancel.onCancel(p);
  });
}

/** What one answer gave the client. */
type Answered = 'more' | 'ended';

/**
 * The data channel of docs/PROTOCOL.md section 5, after the ack has been written: stream mode
 * loops until the client goes or the session ends; pull and poll write one batch (or a
 * heartbeat) and a refresh event, then end.
 *
 * Delivery is at least once: events leave the queue (`ack`) only after the socket took the
 * answer that carries them, so a node killed at any moment, or a client dropping mid-answer,
 * loses none; the client may see one again (`p_seq` starts at 1 in each response).
 *
 * Whatever happens, a pull or poll answer ends with a `refresh` event (unless the session ended:
 * then `abort`): legacy pages never ask again without one. While the store is unavailable, a
 * request is held out its read timeout (a poll: none) and answered with a heartbeat (and the
 * refresh), so pages keep polling through an outage.
 *
 * `done` is called once the channel is over, with the error when it failed: a callback, not a
 * promise, so a held request keeps one object less.
 */
export function runChannel(deps: ChannelDeps, req: ChannelRequest, sink: Sink, done: (err?: unknown) => void): void {
  try {
    new Channel(deps, req, sink, done).run();
  } catch (err) {
    done(err);
  }
}

/** One data channel; an object, not closures, since ten thousand of them may be waiting at once. */
class Channel implements Waiting {
  private seq = 0;
  /** Whether this pull or poll answer has been ended (with its refresh). */
  private ended = false;
  /** The round the current answer is in, until it has been written. */
  private round?: Round;
  private inRound = false;
  /** When the current wait began. */
  private since = 0;

  constructor(
    private readonly deps: ChannelDeps, private readonly req: ChannelRequest, private readonly sink: Sink,
    private readonly done: (err?: unknown) => void,
  ) {}

  private get stream(): boolean {
    return this.req.mode === 'stream';
  }

  private own(): Fields {
    return { [F.SEQ]: String(++this.seq) };
  }

  /** Async so that a failure is a rejection, never a throw inside a promise callback. */
  private async end(): Promise<boolean> {
    this.ended = true;
    const { settings: s } = this.deps;
    this.sink.write(refreshEvent(s, this.req.mode, this.sink.path, this.req.id));
    return this.sink.flush(s.queueWriteTimeoutMillis);
  }

  /**
   * A round is over for this answer once it is written: waiting for the socket to take it must
   * not hold the next round back.
   */
  private leaveRound(): void {
    if (this.inRound) this.deps.rounds.leave(this.round);
    this.inRound = false;
  }

  /**
   * Waits, answers, and (stream) again until the channel is over. The turns are chained with
   * callbacks rather than awaited in a loop, so that a channel waiting for events keeps no
   * suspended async frame: only this object and the store's waiter.
   */
  run(): void {
    if (!this.stream && this.req.afterListen) return void this.end().then(() => this.done(), this.done);
    if (this.stream && !this.sink.write(event(E.HEARTBEAT), this.own())) return this.done();
    this.wait();
  }

  // The channel is what waits (`Waiting`): told by the store, cancelled with its response.
  get cancelled(): boolean {
    return this.sink.cancelled;
  }

  onCancel(l: { expire(): void } | undefined): void {
    this.sink.onCancel(l);
  }

  woken(found: Queued[] | undefined): void {
    this.next(false, found);
  }

  failed(err: unknown): void {
    if (!isStoreUnavailable(err)) return this.over(err);
    // Held out its read timeout, as if no event had come, so clients do not spin.
    void pause(this.readTimeout() - (Date.now() - this.since), this.sink).then(() => this.next(true, undefined));
  }

  private readTimeout(): number {
    return this.req.mode === 'poll' ? 0 : this.deps.settings.queueReadTimeoutMillis;
  }

  private wait(): void {
    this.since = Date.now();
    if (this.req.outage === true) return this.failed(new StoreUnavailableError('the store was away when the request came'));
    try {
      this.deps.store.waitForEvents(this.req.id, this.readTimeout(), this);
    } catch (err) {
      // Called from promise callbacks: a throw here would be an unhandled rejection.
      this.over(err);
    }
  }

  private next(outage: boolean, found: Queued[] | undefined): void {
    this.turn(outage, found).then((answered) => (answered === 'more' ? this.wait() : this.over()), (err: unknown) => this.over(err));
  }

  /** One turn after a wait: in the round, one answer. */
  private async turn(outage: boolean, found: Queued[] | undefined): Promise<Answered> {
    const entering = this.deps.rounds.enter();
    // What the wait read is current unless the round made this answer wait.
    if (entering instanceof Promise) found = undefined;
    this.round = await entering;
    this.inRound = true;
    try {
      return await this.answer(outage, found);
    } finally {
      this.leaveRound();
    }
  }

  /** The channel is over (`err`: it failed); a pull or poll answer not yet ended gets its refresh first. */
  private over(err?: unknown): void {
    if (!this.stream && !this.ended) this.end().then(() => this.done(err), this.done);
    else this.done(err);
  }

  /** One answer after a wait. */
  private async answer(outage: boolean, found: Queued[] | undefined): Promise<Answered> {
    const { store, settings: s, metrics = NO_METRICS } = this.deps;
    const { id } = this.req;
    const { sink, stream } = this;
    if (sink.cancelled) {
      if (sink.draining && stream) {
        sink.write(refreshEvent(s, 'pull', this.sink.path, id));
        await sink.flush(s.queueWriteTimeoutMillis);
      }
      return 'ended';
    }
    let events: Queued[] = [];
    if (!outage) {
      try {
        events = found ?? (await store.peek(id));
        // Whether the session ended meanwhile. A pull or poll request checked it at its start
        // and only waits once: with events to give, it gives them. A stream checks every round,
        // and renews its lease.
        if (stream || events.length === 0) {
          const rec = stream ? await store.touch(id, undefined, false) : await store.getSession(id);
          if (!rec || !rec.online) {
            // A session stopped by the server gets `abort`; one that left itself, nothing more
            // (as Java: pages that see `abort` join again).
            this.ended = true;
            if (!this.deps.hasLeft(id)) sink.write(event(E.ABORT, { [F.ID]: id }), this.own());
            await sink.flush(s.queueWriteTimeoutMillis);
            return 'ended';
          }
        }
      } catch (err) {
        if (!isStoreUnavailable(err)) throw err;
        // What was peeked stays queued for the next answer.
        events = [];
      }
    }
    const written = events.length ? this.writeEvents(events) : sink.write(event(E.HEARTBEAT), this.own()) ? 0 : -1;
    if (written < 0) return 'ended';
    const flushing = stream ? sink.flush(s.queueWriteTimeoutMillis) : this.end();
    this.leaveRound();
    const flushed = await flushing;
    if (!flushed) {
      // A stream that stays full is a receiver that does not read: stop it as a full queue would.
      if (stream && !sink.cancelled) this.deps.stopReceiver(id, events.length, 'stream client did not read for queue.write.timeout.millis');
      return 'ended';
    }
    if (written > 0) {
      metrics.delivered(written);
      await store.ack(id, written === events.length ? events : events.slice(0, written));
    }
    return stream ? 'more' : 'ended';
  }

  /**
   * Writes peeked events in order, at least one, then only while the output holds less than
   * `limit.output.bytes`: the rest stay queued for the next answer. How many were written.
   */
  private writeEvents(events: Queued[]): number {
    const { sink } = this;
    const limit = this.deps.settings.limitOutputBytes;
    let written = 0;
    for (const q of events) {
      if (written > 0 && sink.unsent >= limit) break;
      const mine = this.own();
      if (q.sid !== undefined) mine[F.SID] = q.sid;
      if (q.label !== undefined) mine[F.LABEL] = q.label;
      if (sink.cancelled || !sink.write(q.event, mine)) break;
      written++;
    }
    return written;
  }
}
