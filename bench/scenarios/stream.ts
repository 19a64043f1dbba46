import { deliver } from '../delivery';
import type { ServerProcess } from '../proc';
import type { RedisServer } from '../redis';
import { figure, ratioAtMost, type Figure, type Target } from '../report';
import { BARE_SPEC, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { bare, pushlet, type System } from '../systems';

export const STREAMS = 10_000;
const PUBLISHES_PER_SECOND = 1;

export type StreamResult = Awaited<ReturnType<typeof streamFanout>>;

/** `n` open stream-mode responses on one subject, one publish per second. */
export async function streamFanout(sys: System, nodes: ServerProcess[], n: number, ctx: Pick<Ctx, 'window' | 'clients'>, redis?: RedisServer) {
  return { streams: n, ...(await deliver(sys, nodes, 'stream', n, { rate: PUBLISHES_PER_SECOND }, ctx, redis)) };
}

/** The bare baseline (one node), measured once per run. */
export function bareStream(ctx: Ctx): Promise<StreamResult> {
  return ctx.once('stream', () => ctx.withServers([BARE_SPEC], (nodes) => streamFanout(bare, nodes, STREAMS, ctx)));
}

export function streamFigures(scenario: string, ours: StreamResult, base: StreamResult, p99: Target, cpu?: Target): Figure[] {
  return [
    figure(scenario, 'fraction delivered', 'ratio', ours.fraction, base.fraction),
    figure(scenario, 'delivery p50', 'ms', ours.latency.p50, base.latency.p50),
    figure(scenario, 'delivery p99', 'ms', ours.latency.p99, base.latency.p99, p99),
    figure(scenario, 'publish request p99', 'ms', ours.publishDuration.p99, base.publishDuration.p99),
    figure(scenario, 'server CPU per delivered event', 'µs', ours.cpuUsPerEvent, base.cpuUsPerEvent, cpu),
  ];
}

export const streamScenario: Scenario = {
  name: 'stream',
  title: '5. stream mode: 10k p_mode=stream sessions, one publish per second',
  async run(ctx) {
    const ours = await ctx.withServers([pushletSpec()], (nodes) => streamFanout(pushlet, nodes, STREAMS, ctx));
    const base = await bareStream(ctx);
    return { figures: streamFigures('5 stream N=10k 1/s', ours, base, ratioAtMost(1.2), ratioAtMost(1.5)), details: { ours, bare: base } };
  },
};
