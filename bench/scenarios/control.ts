import { Client, openEach } from '../client';
import { Run } from '../load';
import type { ServerProcess } from '../proc';
import { figure, ratioAtLeast } from '../report';
import { BARE_SPEC, cpuDuring, cpuPerUnit, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { Samples, now } from '../stats';
import { bare, pushlet, type System } from '../systems';

const CONCURRENCY = 50;

/** 50 loops, each sending `hb` on its own session (bare: any path), as fast as replies come. */
async function measure(ctx: Ctx, sys: System, p: ServerProcess) {
  const c = new Client(p.url, CONCURRENCY);
  const paths = await openEach(CONCURRENCY, () => sys.controlPath(c));
  const run = Run.from(ctx.window);
  const latency = new Samples();
  const cpu = cpuDuring([p], run);
  await run.loops(CONCURRENCY, async (i) => {
    const t = now();
    await c.get(paths[i]);
    const done = now();
    if (run.inWindow(done)) latency.add(done - t);
  }, true);
  c.close();
  const s = latency.summary();
  const usage = await cpu;
  return {
    perSecond: s.count / run.seconds, ...s, errors: c.errors, errorSamples: c.errorSamples,
    cpu: usage, cpuUsPerRequest: cpuPerUnit(usage.servers, s.count, run.seconds),
  };
}

export const control: Scenario = {
  name: 'hb',
  title: '1. control requests: hb on existing sessions, concurrency 50',
  async run(ctx) {
    const ours = await ctx.withServers([pushletSpec()], ([p]) => measure(ctx, pushlet, p));
    const base = await ctx.once('control', () => ctx.withServers([BARE_SPEC], ([p]) => measure(ctx, bare, p)));
    const s = '1 hb c=50';
    return {
      figures: [
        figure(s, 'requests/s', 'req/s', ours.perSecond, base.perSecond, ratioAtLeast(0.6)),
        figure(s, 'latency p50', 'ms', ours.p50, base.p50),
        figure(s, 'latency p99', 'ms', ours.p99, base.p99),
        figure(s, 'server CPU per request', 'µs', ours.cpuUsPerRequest, base.cpuUsPerRequest),
      ],
      details: { ours, bare: base },
    };
  },
};
