import { Client, completeEvents, openEach, sendTimes } from '../client';
import { Run, publish, type Window } from '../load';
import type { ServerProcess } from '../proc';
import { below, figure, type Figure, type Target } from '../report';
import { BARE_SPEC, cpuDuring, cpuPerUnit, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { Samples, now, sleep } from '../stats';
import { bare, pushlet, type System } from '../systems';

export const STREAMS = 10_000;
const PUBLISHES_PER_SECOND = 1;
const GRACE_MS = 3000;

export type StreamResult = Awaited<ReturnType<typeof streamFanout>>;

/**
 * `n` open stream-mode responses on one subject (spread over the nodes in turn), one publish per
 * second on the first node; each event carries its send time.
 */
export async function streamFanout(sys: System, nodes: ServerProcess[], n: number, window: Window) {
  const clients = nodes.map((p) => new Client(p.url, Math.ceil(n / nodes.length) + 1));
  const run = new Run();
  const latency = new Samples();
  let received = 0;
  const receiver = () => {
    let buffered = '';
    return (s: string) => {
      const { done, rest } = completeEvents(buffered + s);
      buffered = rest;
      const t = now();
      for (const bt of sendTimes(done)) {
        if (!run.inWindow(bt)) continue;
        received++;
        latency.add(t - bt);
      }
    };
  };
  const opened = performance.now();
  await openEach(n, (i) => clients[i % nodes.length].stream(sys.streamPath, receiver()));
  const openSeconds = (performance.now() - opened) / 1000;
  const prefix = await sys.publisher(clients[0]);

  run.open(window);
  const cpu = cpuDuring(nodes, run);
  const published = await publish(run, nodes[0].url, prefix, { rate: PUBLISHES_PER_SECOND });
  const expected = published.inWindow * n;
  for (const graceEnd = now() + GRACE_MS; received < expected && now() < graceEnd;) await sleep(50);
  if (sys.queues) latency.addMissing(expected - received);
  for (const c of clients) c.close();
  const usage = await cpu;
  return {
    streams: n, nodes: nodes.length, openSeconds,
    fraction: expected ? received / expected : NaN,
    latency: latency.summary(), publishDuration: published.duration.summary(),
    errors: clients.reduce((a, c) => a + c.errors, published.errors),
    errorSamples: [...published.errorSamples, ...clients.flatMap((c) => c.errorSamples)].slice(0, 5),
    cpu: usage, cpuUsPerEvent: cpuPerUnit(usage, received, run.seconds),
  };
}

/** The bare baseline (one node), measured once per run. */
export function bareStream(ctx: Ctx): Promise<StreamResult> {
  return ctx.bare('stream', () => ctx.withServers([BARE_SPEC], (nodes) => streamFanout(bare, nodes, STREAMS, ctx.window)));
}

export function streamFigures(scenario: string, ours: StreamResult, base: StreamResult, p99: Target): Figure[] {
  return [
    figure(scenario, 'fraction delivered', 'ratio', ours.fraction, base.fraction),
    figure(scenario, 'delivery p50', 'ms', ours.latency.p50, base.latency.p50),
    figure(scenario, 'delivery p99', 'ms', ours.latency.p99, base.latency.p99, p99),
    figure(scenario, 'publish request p99', 'ms', ours.publishDuration.p99, base.publishDuration.p99),
    figure(scenario, 'server CPU per delivered event', 'µs', ours.cpuUsPerEvent, base.cpuUsPerEvent),
  ];
}

export const streamScenario: Scenario = {
  name: 'stream',
  title: '5. stream mode: 10k p_mode=stream sessions, one publish per second',
  async run(ctx) {
    const ours = await ctx.withServers([pushletSpec()], (nodes) => streamFanout(pushlet, nodes, STREAMS, ctx.window));
    const base = await bareStream(ctx);
    return { figures: streamFigures('5 stream N=10k 1/s', ours, base, below(50)), details: { ours, bare: base } };
  },
};
