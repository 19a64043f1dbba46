import { Client, openEach, sendTimes } from '../client';
import { Run, publish } from '../load';
import type { ServerProcess } from '../proc';
import { figure, ratioAtLeast } from '../report';
import { BARE_SPEC, cpuDuring, cpuPerUnit, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { now } from '../stats';
import { bare, pushlet, type System } from '../systems';

const SESSIONS = 50;

/**
 * 50 pull sessions looping `refresh` (ignoring p_wait) while one publisher publishes as fast as
 * its replies come. The bare baseline answers each cycle's request at once, so the ratio is
 * what a pull cycle costs against the cheapest possible request.
 */
async function measure(ctx: Ctx, sys: System, p: ServerProcess) {
  const c = new Client(p.url, SESSIONS + 1);
  const paths = await openEach(SESSIONS, () => (sys.kind === 'bare' ? sys.controlPath(c) : sys.pullPath(c)));
  const prefix = await sys.publisher(c);
  const run = Run.from(ctx.window);
  let cycles = 0;
  let events = 0;
  const cpu = cpuDuring([p], run);
  const loops = run.loops(SESSIONS, async (i) => {
    const body = await c.get(paths[i]);
    if (run.inWindow(now())) {
      cycles++;
      events += sendTimes(body).length;
    }
  }, true);
  const published = await publish(run, p.url, prefix, { publishers: 1 });
  // A refresh still waiting for an event ends with the connections.
  run.stopped = true;
  c.close();
  await loops;
  const usage = await cpu;
  return {
    cyclesPerSecond: cycles / run.seconds, eventsPerCycle: cycles ? events / cycles : 0,
    publishesPerSecond: published.inWindow / run.seconds, errors: c.errors + published.errors,
    errorSamples: [...c.errorSamples, ...published.errorSamples],
    cpu: usage, cpuUsPerCycle: cpuPerUnit(usage.servers, cycles, run.seconds),
  };
}

export const pullCycle: Scenario = {
  name: 'pull',
  title: '2. pull cycle: 50 sessions looping refresh while a publisher sends',
  async run(ctx) {
    const ours = await ctx.withServers([pushletSpec()], ([p]) => measure(ctx, pushlet, p));
    const base = await ctx.once('pull', () => ctx.withServers([BARE_SPEC], ([p]) => measure(ctx, bare, p)));
    return {
      figures: [
        figure('2 pull cycle', 'cycles/s', 'cycles/s', ours.cyclesPerSecond, base.cyclesPerSecond, ratioAtLeast(0.4)),
        figure('2 pull cycle', 'server CPU per cycle', 'µs', ours.cpuUsPerCycle, base.cpuUsPerCycle),
      ],
      details: { ours, bare: base },
    };
  },
};
