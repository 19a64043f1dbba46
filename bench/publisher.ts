/**
 * The publisher of a measurement, run in a worker thread so that its schedule holds while the
 * main thread is busy with thousands of receivers. Started by `publish()` in load.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client } from './client';
import { Run, type PublishJob, type PublishReport } from './load';
import { now, sleep } from './stats';

/** Publishes still unanswered this long after the window are cut off; the report shows them as unanswered. */
const CUTOFF_MS = 5000;

async function main(job: PublishJob): Promise<PublishReport> {
  const run = new Run(job.start, job.end);
  const c = new Client(job.base, job.publishers ?? 8);
  const report: PublishReport = { inWindow: 0, durations: [], errors: 0, errorSamples: [] };
  const cutoff = setTimeout(() => c.close(), Math.max(0, run.end + CUTOFF_MS - now()));
  let k = 0;
  /** One publish carrying its send time `bt` (ms) and number `bn`. */
  const once = async () => {
    const t = now();
    const counted = run.inWindow(t);
    // Counted before the reply: receivers may see the event first.
    if (counted) report.inWindow++;
    await c.get(`${job.prefix}&bt=${t.toFixed(3)}&bn=${k++}`);
    if (counted) report.durations.push(now() - t);
  };
  if (job.rate) {
    // Open loop: a slow publish does not delay the next one.
    const pending: Promise<void>[] = [];
    const period = 1000 / job.rate;
    const t0 = now();
    for (let i = 1; now() < run.end; i++) {
      pending.push(once().catch(() => undefined));
      await sleep(t0 + i * period - now());
    }
    await Promise.all(pending);
  } else {
    await run.loops(job.publishers ?? 1, once, true);
  }
  clearTimeout(cutoff);
  c.close();
  return { ...report, errors: c.errors, errorSamples: c.errorSamples };
}

void main(workerData as PublishJob).then((r) => parentPort?.postMessage(r));
