/**
 * A receiver thread of a fan-out or stream measurement, started by `Receivers` (receivers.ts):
 * sets up its slice of the subscribers, counts the events sent inside the window and reports
 * them when told to finish.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client, completeEvents, openEach, sendTimes } from './client';
import { Run } from './load';
import type { FromReceiver, ReceiverJob, ToReceiver } from './receivers';
import { Samples, now, sleep } from './stats';
import { bare, pushlet } from './systems';

const job = workerData as ReceiverJob;
const sys = job.system === 'bare' ? bare : pushlet;
const n = job.to - job.from;
/** Subscriber j of this thread is number from + j of all, on that node. */
const nodeOf = (j: number) => (job.from + j) % job.urls.length;
/** The window is not open until the main thread says so: nothing counts before. */
const run = new Run();
const latency = new Samples();
let received = 0;

/** Counts the data events in `text` that were sent inside the window. */
function count(text: string): void {
  const t = now();
  for (const bt of sendTimes(text)) {
    if (!run.inWindow(bt)) continue;
    received++;
    latency.add(t - bt);
  }
}

/**
 * Pull sessions looping `refresh` (ignoring p_wait, so latency is the server's, not the client's
 * pause). Each has a connection of its own and starts looping as soon as it has joined: an idle
 * connection would be closed by the server (keep-alive timeout, 5 s) while the others join, and
 * thousands reconnecting at once overflow the listen backlog.
 */
async function pull(): Promise<{ clients: Client[]; loops: Promise<void>[] }> {
  const loops: Promise<void>[] = [];
  const clients = await openEach(n, async (j) => {
    const c = new Client(job.urls[nodeOf(j)], 1);
    const path = await sys.pullPath(c);
    loops.push(run.loop(async () => count(await c.get(path)), false));
    return c;
  }, job.openConcurrency);
  return { clients, loops };
}

/** Open stream-mode responses; events are counted as they complete (a piece may end inside one). */
async function stream(): Promise<{ clients: Client[]; loops: Promise<void>[] }> {
  const clients = job.urls.map((u) => new Client(u, Math.ceil(n / job.urls.length) + 1));
  const receiver = () => {
    let buffered = '';
    return (s: string) => {
      const { done, rest } = completeEvents(buffered + s);
      buffered = rest;
      count(done);
    };
  };
  await openEach(n, (j) => clients[nodeOf(j)].stream(sys.streamPath, receiver()), job.openConcurrency);
  return { clients, loops: [] };
}

function send(m: FromReceiver, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

async function main(): Promise<void> {
  const finish = new Promise<Extract<ToReceiver, { type: 'finish' }>>((resolve) => {
    parentPort!.on('message', (m: ToReceiver) => {
      if (m.type === 'finish') return resolve(m);
      run.start = m.start;
      run.end = m.end;
    });
  });
  const t0 = performance.now();
  const { clients, loops } = await (job.mode === 'pull' ? pull() : stream());
  send({ type: 'ready', openMs: performance.now() - t0 });
  const { perSubscriber, graceEnd } = await finish;
  while (received < perSubscriber * n && now() < graceEnd) await sleep(50);
  run.stopped = true;
  for (const c of clients) c.close();
  await Promise.all(loops);
  const latencies = latency.values();
  send({
    type: 'done', received, latencies,
    errors: clients.reduce((a, c) => a + c.errors, 0),
    errorSamples: clients.flatMap((c) => c.errorSamples).slice(0, 5),
  }, [latencies.buffer as ArrayBuffer]);
}

// A failure (unhandled rejection) ends the thread and reaches the main thread as the worker's 'error' event.
void main();
