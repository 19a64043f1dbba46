import { Client, openEach, sendTimes } from '../client';
import type { ServerProcess } from '../proc';
import { atMost, below, figure } from '../report';
import { BARE_SPEC, NET_SPEC, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { sleep } from '../stats';
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
 * the server's RSS (after a full GC) before and after; then one publish answers them all.
 */
async function measure(sys: System, p: ServerProcess) {
  const c = new Client(p.url, HELD + 100);
  const started = await p.stats(true);
  const paths = await openEach(HELD, () => sys.pullPath(c));
  const prefix = await sys.publisher(c);
  await settle(p);
  const before = await p.stats(true);
  let answered = 0;
  const replies: Promise<void>[] = [];
  await openEach(HELD, (i) => new Promise<void>((sent) => {
    replies.push(c.get(paths[i], HOLD_MS, sent).then((body) => { if (sendTimes(body).length) answered++; }, () => undefined));
  }));
  await settle(p);
  const after = await p.stats(true);
  await c.get(`${prefix}&bt=0`);
  await Promise.race([Promise.all(replies), sleep(30_000)]);
  c.close();
  return {
    held: HELD,
    rssStartMB: started.rss / 2 ** 20, rssBeforeMB: before.rss / 2 ** 20, rssAfterMB: after.rss / 2 ** 20,
    bytesPerSession: (before.rss - started.rss) / HELD,
    bytesPerHeld: (after.rss - before.rss) / HELD,
    heapBytesPerHeld: (after.heapUsed - before.heapUsed) / HELD,
    answered, errors: c.errors, errorSamples: c.errorSamples,
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
        figure(s, 'RSS per held request', 'bytes', ours.bytesPerHeld, base.bytesPerHeld, below(4096)),
        figure(s, 'held requests failed', 'requests', HELD - ours.answered, HELD - base.answered, atMost(0)),
        figure(s, 'JS heap per held request', 'bytes', ours.heapBytesPerHeld, base.heapBytesPerHeld),
        figure(s, 'RSS per session (not held)', 'bytes', ours.bytesPerSession),
        figure(s, 'RSS with all held', 'MB', ours.rssAfterMB, base.rssAfterMB),
        figure(s, 'RSS per held request, node:net prototype', 'bytes', net.bytesPerHeld, base.bytesPerHeld, below(4096)),
        figure(s, 'JS heap per held request, node:net prototype', 'bytes', net.heapBytesPerHeld, base.heapBytesPerHeld),
        figure(s, 'held requests failed, node:net prototype', 'requests', HELD - net.answered, HELD - base.answered, atMost(0)),
      ],
      details: { ours, bare: base, net },
    };
  },
};
