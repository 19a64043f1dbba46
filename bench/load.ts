import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Samples, now, sleep } from './stats';

/** How long a measurement warms up, then measures. */
export interface Window {
  warmupMs: number;
  durationMs: number;
}

/**
 * One measurement: the window it counts, and the flag that ends its loops. Loops are bounded
 * in count (one per session or publisher) and in time (they stop at `end`, or when stopped).
 */
export class Run {
  stopped = false;

  /** `start` and `end` are times on the shared clock (stats.ts `now`); a new run's window is not open yet. */
  constructor(public start = Infinity, public end = Infinity) {}

  /** Opens the window: it starts after the warm-up. */
  open(window: Window): this {
    this.start = now() + window.warmupMs;
    this.end = this.start + window.durationMs;
    return this;
  }

  static from(window: Window): Run {
    return new Run().open(window);
  }

  get seconds(): number {
    return (this.end - this.start) / 1000;
  }

  inWindow(t: number): boolean {
    return t >= this.start && t < this.end;
  }

  /** Resolves at the end of the window. */
  untilEnd(): Promise<void> {
    return sleep(Math.max(0, this.end - now()));
  }

  /**
   * Runs `body` over and over until stopped (or, with `untilEnd`, the window is over). A failure
   * is counted by the client; the loop pauses and goes on.
   */
  async loop(body: () => Promise<void>, untilEnd: boolean): Promise<void> {
    const go = () => !this.stopped && (!untilEnd || now() < this.end);
    while (go()) {
      try {
        await body();
      } catch {
        if (go()) await sleep(20);
      }
    }
  }

  /** `n` concurrent loops of `body(i)`. */
  loops(n: number, body: (i: number) => Promise<void>, untilEnd: boolean): Promise<void> {
    return Promise.all(Array.from({ length: n }, (_, i) => this.loop(() => body(i), untilEnd))).then(() => undefined);
  }
}

/** What a publisher worker is asked to do: publish on `prefix` (a path with a query) during the window. */
export interface PublishJob {
  base: string;
  prefix: string;
  start: number;
  end: number;
  /** Publishes per second on a schedule; without it, `publishers` loops as fast as replies come. */
  rate?: number;
  publishers?: number;
}

export interface PublishReport {
  /** Publishes sent inside the window. */
  inWindow: number;
  /** How long those publish requests took, ms (fewer than inWindow when some were never answered). */
  durations: number[];
  errors: number;
  errorSamples: string[];
}

/** Publishes from a worker thread (publisher.ts) for the window of `run`; resolves when it is over. */
export function publish(run: Run, base: string, prefix: string, load: { rate?: number; publishers?: number }): Promise<PublishReport & { duration: Samples }> {
  const job: PublishJob = { base, prefix, start: run.start, end: run.end, ...load };
  const worker = new Worker(join(__dirname, 'publisher.js'), { workerData: job });
  return new Promise((resolve, reject) => {
    worker.once('message', (r: PublishReport) => {
      const duration = new Samples();
      for (const d of r.durations) duration.add(d);
      resolve({ ...r, duration });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`publisher exited with code ${code}`)));
  });
}
