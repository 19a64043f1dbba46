import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { OPEN_CONCURRENCY } from './client';
import type { Run } from './load';
import { Samples, now } from './stats';

/** How long receivers may take after the window to get the events published in it. */
const GRACE_MS = 3000;

/** What one receiver thread (receiver-thread.ts) sets up. */
export interface ReceiverJob {
  /** Pull sessions looping `refresh`, or open stream-mode responses. */
  mode: 'pull' | 'stream';
  system: 'pushlet' | 'bare';
  /** The nodes: subscriber i uses urls[i % urls.length]. */
  urls: string[];
  /** Its subscribers: numbers from..to-1 of all of them. */
  from: number;
  to: number;
  openConcurrency: number;
}

export type ToReceiver =
  | { type: 'window'; start: number; end: number }
  /** Stop once every subscriber of the thread has `perSubscriber` events of the window, or at `graceEnd`. */
  | { type: 'finish'; perSubscriber: number; graceEnd: number };

export interface ReceiverReport {
  received: number;
  /** Receive time minus send time of each event of the window received, ms. */
  latencies: Float64Array;
  errors: number;
  errorSamples: string[];
}

export type FromReceiver = { type: 'ready'; openMs: number } | ({ type: 'done' } & ReceiverReport);

/** The messages of a worker in order; a failure of the worker rejects the read that waits for more. */
function inbox(w: Worker): () => Promise<FromReceiver> {
  const queue: FromReceiver[] = [];
  let failure: Error | undefined;
  let wake = () => {};
  w.on('message', (m: FromReceiver) => {
    queue.push(m);
    wake();
  });
  w.on('error', (err) => {
    failure = err;
    wake();
  });
  w.on('exit', (code) => {
    failure ??= new Error(`receiver thread exited with code ${code}`);
    wake();
  });
  return async () => {
    while (!queue.length) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return queue.shift()!;
  };
}

function expect<T extends FromReceiver['type']>(m: FromReceiver, type: T): Extract<FromReceiver, { type: T }> {
  if (m.type !== type) throw new Error(`receiver thread sent ${m.type}, expected ${type}`);
  return m as Extract<FromReceiver, { type: T }>;
}

/**
 * The subscribers of a fan-out or stream measurement, split in contiguous slices over worker
 * threads, so that receiving is not limited to one core of the load generator. Each thread
 * counts the events sent inside the window; `finish` gathers the counts and latencies.
 */
export class Receivers {
  private constructor(
    private readonly threads: { worker: Worker; next: () => Promise<FromReceiver> }[],
    private readonly n: number,
    private readonly queues: boolean,
    /** How long setting up the subscribers took (the slowest thread), s. */
    readonly openSeconds: number,
  ) {}

  get threadCount(): number {
    return this.threads.length;
  }

  /**
   * Starts `threads` threads for subscribers 0..n-1; resolves once every subscriber has joined
   * (and is looping, or its stream is open). `queues`: the server is meant to deliver every event.
   */
  static async start(job: Pick<ReceiverJob, 'mode' | 'system' | 'urls'>, n: number, threads: number, queues: boolean): Promise<Receivers> {
    const k = Math.max(1, Math.min(threads, n));
    const started = Array.from({ length: k }, (_, t) => {
      const data: ReceiverJob = {
        ...job, from: Math.floor((t * n) / k), to: Math.floor(((t + 1) * n) / k),
        openConcurrency: Math.ceil(OPEN_CONCURRENCY / k),
      };
      const worker = new Worker(join(__dirname, 'receiver-thread.js'), { workerData: data });
      return { worker, next: inbox(worker) };
    });
    try {
      const ready = await Promise.all(started.map(async (t) => expect(await t.next(), 'ready')));
      return new Receivers(started, n, queues, Math.max(...ready.map((r) => r.openMs)) / 1000);
    } catch (err) {
      await Promise.all(started.map((t) => t.worker.terminate()));
      throw err;
    }
  }

  /** From now on the threads count the events sent inside the window of `run`. */
  open(run: Run): void {
    for (const t of this.threads) t.worker.postMessage({ type: 'window', start: run.start, end: run.end } satisfies ToReceiver);
  }

  /**
   * Gives the receivers GRACE_MS to get the `published` events of the window, stops them and
   * adds up what they got; the threads end.
   */
  async finish(published: number) {
    const msg: ToReceiver = { type: 'finish', perSubscriber: published, graceEnd: now() + GRACE_MS };
    try {
      for (const t of this.threads) t.worker.postMessage(msg);
      const reports = await Promise.all(this.threads.map(async (t) => expect(await t.next(), 'done')));
      const latency = new Samples();
      for (const r of reports) latency.addAll(r.latencies);
      const received = reports.reduce((a, r) => a + r.received, 0);
      const expected = published * this.n;
      // Deliveries that never came count as infinitely late, so p99 cannot look good while a server with queues loses events.
      if (this.queues) latency.addMissing(expected - received);
      return {
        received, expected, latency,
        errors: reports.reduce((a, r) => a + r.errors, 0),
        errorSamples: reports.flatMap((r) => r.errorSamples),
      };
    } finally {
      await this.stop();
    }
  }

  /** Ends the threads and their connections (also when the measurement failed before `finish`). */
  async stop(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
