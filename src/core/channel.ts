import { E, F, type Mode } from '../protocol/constants';
import { event, type Fields, type Queued } from '../protocol/event';
import { escaper } from '../protocol/formats/writer';
import type { Store } from '../store/store';
import { NO_METRICS, type CoreMetrics } from './metrics';
import type { Rounds } from './rounds';
import type { CoreSettings } from './settings';
import { leaseMs } from './settings';

/** Where the data channel writes: the open HTTP response. */
export interface Sink {
  /** Writes one event; false when the client has gone away. */
  write(e: Fields, own?: Fields): boolean;
  /** Aborted when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
  /** Aborted when the server shuts down: the client is sent a refresh, to come back elsewhere. */
  readonly draining: AbortSignal;
}

/** What every data channel of a server shares. */
export interface ChannelDeps {
  store: Store;
  settings: CoreSettings;
  rounds: Rounds;
  metrics?: CoreMetrics;
}

export interface ChannelRequest {
  id: string;
  mode: Mode;
  /** The request path, for the refresh event's `p_url`. */
  path: string;
  /** true right after a (join-)listen-ack: pull/poll clients are sent straight back to refresh. */
  afterListen: boolean;
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

/**
 * The data channel of PROTOCOL.md section 5, after the ack has been written: stream mode loops
 * until the client goes or the session ends; pull and poll write one batch (or a heartbeat)
 * and a refresh event, then return so the response ends.
 */
export async function runChannel(deps: ChannelDeps, req: ChannelRequest, sink: Sink): Promise<void> {
  const { store, settings: s, rounds, metrics = NO_METRICS } = deps;
  const { id, mode } = req;
  if (mode !== 'stream' && req.afterListen) {
    sink.write(refreshEvent(s, mode, req.path, id));
    return;
  }
  let seq = 0;
  const own = () => ({ [F.SEQ]: String(++seq) });
  if (mode === 'stream' && !sink.write(event(E.HEARTBEAT), own())) return;

  /** One answer after a wait: false when the response is to end. */
  const answer = async (): Promise<boolean> => {
    if (sink.signal.aborted) {
      if (sink.draining.aborted) sink.write(refreshEvent(s, 'pull', req.path, id));
      return false;
    }
    const events = await store.peek(id);
    // Whether the session ended meanwhile (abort). A pull or poll request checked it at its start
    // and only waits once: with events to give, it gives them. A stream checks every round, and
    // renews its lease.
    if (mode === 'stream' || events.length === 0) {
      const rec = await store.getSession(id);
      if (!rec || !rec.online) {
        sink.write(event(E.ABORT, { [F.ID]: id }), own());
        return false;
      }
      if (mode === 'stream') await store.kick(id, leaseMs(s));
    }
    if (events.length === 0) {
      if (!sink.write(event(E.HEARTBEAT), own())) return false;
    } else {
      const written = await writeAll(store, id, events, sink, own);
      metrics.delivered(written);
      if (written < events.length) return false;
    }
    if (mode === 'stream') return true;
    sink.write(refreshEvent(s, mode, req.path, id));
    return false;
  };

  for (;;) {
    await store.waitForEvents(id, mode === 'poll' ? 0 : s.queueReadTimeoutMillis, sink.signal);
    const round = await rounds.enter();
    try {
      if (!(await answer())) return;
    } finally {
      rounds.leave(round);
    }
  }
}

/**
 * Writes peeked events in order, then removes from the queue those written. What could not be
 * written stays queued, and an event is never removed before it was written.
 */
async function writeAll(store: Store, id: string, events: Queued[], sink: Sink, own: () => Fields): Promise<number> {
  let written = 0;
  for (const q of events) {
    const mine = own();
    if (q.sid !== undefined) mine[F.SID] = q.sid;
    if (q.label !== undefined) mine[F.LABEL] = q.label;
    if (sink.signal.aborted || !sink.write(q.event, mine)) break;
    written++;
  }
  await store.ack(id, written === events.length ? events : events.slice(0, written));
  return written;
}
