import { Client, openEach, sendTimes } from '../client';
import type { ServerProcess, ServerStats } from '../proc';
import { atMost, atMostAbove, below, figure, ratioAtMost } from '../report';
import { BARE_SPEC, NET_SPEC, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { Samples, now, sleep } from '../stats';
import { bare, pushlet, type System } from '../systems';

const HELD = 10_000;
/** Held requests must outlast opening all of them and measuring. */
const HOLD_MS = 120_000;

/** Waits until the server has handled what was sent to it: its CPU stays near idle for a moment. */
async function settle(p: ServerProcess): Promise<void> {
  let last = await p.stats();
  for (let i = 0; i < 40; i++) {
    await sleep(250);
    const s = await p.stats();
    const busy = (s.cpuMs - last.cpuMs) / (s.at - last.at);
    last = s;
    if (busy < 0.03) return;
  }
}

/**
 * Opens `HELD` pull requests that wait (refresh with nothing queued; bare: `/wait`) and measures
 * the server's RSS (after a full GC) before and after; then one publish answers them all, and
 * the server's CPU from that publish until the last answer arrived is what writing them cost.
 */
const fixed = (s: ServerStats) => s.rss - s.young;

async function measure(sys: System, p: ServerProcess) {
  const c = new Client(p.url, HELD + 100);
  const started = await p.stats(true);
  const paths = await openEach(HELD, () => sys.pullPath(c));
  const prefix = await sys.publisher(c);
  await settle(p);
  const before = await p.stats(true);
  let answered = 0;
  const latency = new Samples();
  const replies: Promise<void>[] = [];
  await openEach(HELD, (i) => new Promise<void>((sent) => {
    replies.push(c.get(paths[i], HOLD_MS, sent).then((body) => {
      const at = now();
      for (const bt of sendTimes(body)) latency.add(at - bt);
      if (sendTimes(body).length) answered++;
    }, () => undefined));
  }));
  await settle(p);
  const after = await p.stats(true);
  const publishing = await p.stats();
  await c.get(`${prefix}&bt=${now()}`);
  await Promise.race([Promise.all(replies), sleep(30_000)]);
  const published = await p.stats();
  c.close();
  return {
    held: HELD,
    rssStartMB: started.rss / 2 ** 20, rssBeforeMB: before.rss / 2 ** 20, rssAfterMB: after.rss / 2 ** 20,
    // RSS less the young generation, a fixed cost that grows at whichever step first allocates briskly.
    bytesPerSession: (fixed(before) - fixed(started)) / HELD,
    bytesPerHeld: (fixed(after) - fixed(before)) / HELD,
    rawBytesPerSession: (before.rss - started.rss) / HELD,
    rawBytesPerHeld: (after.rss - before.rss) / HELD,
    heapBytesPerHeld: (after.heapUsed - before.heapUsed) / HELD,
    heapBytesPerSession: (before.heapUsed - started.heapUsed) / HELD,
    answered, latency: latency.summary(), answerCpuMs: published.cpuMs - publishing.cpuMs,
    errors: c.errors, errorSamples: c.errorSamples,
  };
}

export const heldScenario: Scenario = {
  name: 'held',
  title: '6. held connections: 10k concurrent pull refreshes waiting',
  async run(ctx: Ctx) {
    const ours = await ctx.withServers([pushletSpec({ 'queue.read.timeout.millis': HOLD_MS })], ([p]) => measure(pushlet, p));
    const base = await ctx.once('held', () => ctx.withServers([BARE_SPEC], ([p]) => measure(bare, p)));
    // Issue 16: the node:net prototype answers bare's paths; its floor sits beside bare node:http's.
    const net = await ctx.withServers([NET_SPEC], ([p]) => measure(bare, p));
    const s = '6 held N=10k';
    return {
      figures: [
        figure(s, 'RSS per held request', 'bytes', ours.bytesPerHeld, base.bytesPerHeld, atMostAbove(1024)),
        figure(s, 'held requests failed', 'requests', HELD - ours.answered, HELD - base.answered, atMost(0)),
        figure(s, 'JS heap per held request', 'bytes', ours.heapBytesPerHeld, base.heapBytesPerHeld),
        // Bare's figure is what the session's idle keep-alive connection costs; ours is both.
        figure(s, 'RSS per idle session and its connection', 'bytes', ours.bytesPerSession, base.bytesPerSession, atMostAbove(1024)),
        figure(s, 'JS heap per idle session and its connection', 'bytes', ours.heapBytesPerSession, base.heapBytesPerSession),
        figure(s, 'server CPU to answer all held, one publish', 'ms', ours.answerCpuMs, base.answerCpuMs, ratioAtMost(1.5)),
        figure(s, 'publish-to-answer p99, all held', 'ms', ours.latency.p99, base.latency.p99, ratioAtMost(1.2)),
        figure(s, 'RSS with all held', 'MB', ours.rssAfterMB, base.rssAfterMB),
        figure(s, 'RSS per held request, node:net prototype', 'bytes', net.bytesPerHeld, base.bytesPerHeld, below(4096)),
        figure(s, 'JS heap per held request, node:net prototype', 'bytes', net.heapBytesPerHeld, base.heapBytesPerHeld),
        figure(s, 'held requests failed, node:net prototype', 'requests', HELD - net.answered, HELD - base.answered, atMost(0)),
      ],
      details: { ours, bare: base, net },
    };
  },
};
