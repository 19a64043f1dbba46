import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './logger';

/** What a worker tells the primary over the cluster's channel. */
export type WorkerMessage = { listening: string } | { startFailure: string };

/** A worker that dies sooner than this after its fork was failing at start: the next fork waits. */
const STABLE_MS = 5000;
/** The wait after a first quick death; it doubles with each further one, up to the cap. */
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Workers force their own exit 10 s after SIGTERM; one still there after this is killed. */
const STOP_MS = 15_000;

/** A worker could not start before the service was up, saying why in one line (a busy port...). */
export class WorkerStartFailure extends Error {}

/** One of the N places a worker runs in, across its restarts. */
interface Slot {
  worker?: Worker;
  forkedAt: number;
  backoff: number;
  restart?: NodeJS.Timeout;
}

/**
 * The primary of `--workers N` (node:cluster): forks N workers, each a whole server on the shared
 * port; forks another for one that dies, waiting longer each time one dies soon after its start,
 * so one that cannot start does not fork in a loop; on stop, SIGTERMs them all and waits.
 */
export class Workers {
  private readonly slots: Slot[];
  private up = false;
  private stopping?: Promise<number>;
  private allGone?: () => void;
  private forced = false;
  /** Settled by `start`: once every first worker listens, or when one ends before. */
  private started?: { resolve: (url: string) => void; reject: (err: Error) => void; waiting: number };

  constructor(
    count: number,
    private readonly log: Logger,
    /** Added to each worker's environment. */
    private readonly env: Record<string, string> = {},
  ) {
    this.slots = Array.from({ length: count }, () => ({ forkedAt: 0, backoff: 0 }));
  }

  /** Forks every worker; resolves to the URL they listen on once all do. */
  start(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.started = { resolve, reject, waiting: this.slots.length };
      for (const slot of this.slots) this.fork(slot);
    });
  }

  /** SIGTERMs every worker (they end held requests with a refresh); resolves to 0 once all exited, 1 if some had to be killed. */
  stop(): Promise<number> {
    this.stopping ??= new Promise<void>((resolve) => {
      const live = this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
      for (const s of this.slots) clearTimeout(s.restart);
      if (live.length === 0) return resolve();
      const force = setTimeout(() => {
        this.forced = true;
        for (const w of live) w.process.kill('SIGKILL');
      }, STOP_MS);
      this.allGone = () => {
        clearTimeout(force);
        resolve();
      };
      for (const w of live) w.process.kill('SIGTERM');
    }).then(() => (this.forced ? 1 : 0));
    return this.stopping;
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork(this.env);
    slot.worker = worker;
    slot.forkedAt = Date.now();
    let failure: string | undefined;
    worker.on('message', (m: WorkerMessage) => {
      if ('startFailure' in m) failure = m.startFailure;
      else if (!this.up) this.listening(m.listening);
      else this.log.info({ worker: worker.process.pid }, 'worker listening');
    });
    worker.on('exit', (code, signal) => {
      slot.worker = undefined;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (this.stopping) {
        if (this.slots.every((s) => !s.worker)) this.allGone?.();
      } else if (!this.up) {
        // Before the service is up, a worker that cannot start stops the start, as a single process would.
        const err = failure !== undefined ? new WorkerStartFailure(failure) : new Error(`a worker exited (${how}) before listening`);
        void this.stop().then(() => this.started!.reject(err));
      } else {
        const lived = Date.now() - slot.forkedAt;
        slot.backoff = lived >= STABLE_MS ? 0 : Math.min(Math.max(2 * slot.backoff, FIRST_BACKOFF_MS), MAX_BACKOFF_MS);
        this.log.warn({ worker: worker.process.pid, code, signal, lived }, `worker exited (${how}); forking another${slot.backoff ? ` in ${slot.backoff} ms` : ''}`);
        slot.restart = setTimeout(() => this.fork(slot), slot.backoff);
      }
    });
  }

  private listening(url: string): void {
    const s = this.started!;
    if (--s.waiting > 0) return;
    this.up = true;
    s.resolve(url);
  }
}
