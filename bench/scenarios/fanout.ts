import { deliver } from '../delivery';
import type { ServerProcess } from '../proc';
import type { RedisServer } from '../redis';
import { atLeast, atMost, below, figure, type Figure, type Target } from '../report';
import { BARE_SPEC, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { bare, pushlet, type System } from '../systems';

export interface FanoutLoad {
  subscribers: number;
  /** Publishes per second on a schedule; without it, `publishers` loops as fast as they go. */
  rate?: number;
  publishers?: number;
}

export type FanoutResult = Awaited<ReturnType<typeof fanout>>;

/** Pull sessions looping `refresh` at once (receiver-thread.ts) while events are published on their subject. */
export async function fanout(sys: System, nodes: ServerProcess[], load: FanoutLoad, ctx: Pick<Ctx, 'window' | 'clients'>, redis?: RedisServer) {
  return { subscribers: load.subscribers, ...(await deliver(sys, nodes, 'pull', load.subscribers, load, ctx, redis)) };
}

/** The bare baseline of a fan-out load, measured once per run (scenario 7 compares to it too). */
export function bareFanout(ctx: Ctx, load: FanoutLoad): Promise<FanoutResult> {
  return ctx.once(`fanout ${JSON.stringify(load)}`, () => ctx.withServers([BARE_SPEC], (nodes) => fanout(bare, nodes, load, ctx)));
}

/** A fan-out load on one embedded node, measured once per run (scenario 7 sets Redis beside it). */
export function embeddedFanout(ctx: Ctx, load: FanoutLoad): Promise<FanoutResult> {
  return ctx.once(`embedded fanout ${JSON.stringify(load)}`, () => ctx.withServers([pushletSpec()], (nodes) => fanout(pushlet, nodes, load, ctx)));
}

export interface FanoutTargets {
  p99?: Target;
  fraction?: Target;
  publish?: Target;
  delivered?: Target;
}

/** The figures of one fan-out measurement against its baseline. */
export function fanoutFigures(scenario: string, ours: FanoutResult, base: FanoutResult, t: FanoutTargets = {}): Figure[] {
  return [
    figure(scenario, 'delivered events/s', 'ev/s', ours.deliveredPerSecond, base.deliveredPerSecond, t.delivered),
    figure(scenario, 'fraction delivered', 'ratio', ours.fraction, base.fraction, t.fraction),
    figure(scenario, 'publish-to-receive p50', 'ms', ours.latency.p50, base.latency.p50),
    figure(scenario, 'publish-to-receive p99', 'ms', ours.latency.p99, base.latency.p99, t.p99),
    figure(scenario, 'publish request p99', 'ms', ours.publishDuration.p99, base.publishDuration.p99, t.publish),
    figure(scenario, 'server CPU per delivered event', 'µs', ours.cpuUsPerEvent, base.cpuUsPerEvent),
  ];
}

/** Scenario 3's loads: N subscribers, 20 events/s. */
export const FANOUT_LOADS: FanoutLoad[] = [{ subscribers: 1000, rate: 20 }, { subscribers: 10_000, rate: 20 }];
/** Scenario 4's loads: 200 subscribers, 4 publishers flat out, then 20 publishes/s. */
export const MAX_FANOUT_LOADS: FanoutLoad[] = [{ subscribers: 200, publishers: 4 }, { subscribers: 200, rate: 20 }];

export const fanoutLabel = (l: FanoutLoad) =>
  `N=${l.subscribers >= 1000 ? `${l.subscribers / 1000}k` : l.subscribers} ${l.rate ? `${l.rate}/s` : `${l.publishers} pub flat`}`;

export const fanoutScenario: Scenario = {
  name: 'fanout',
  title: '3. fan-out: 1k and 10k pull sessions on one subject, 20 events/s',
  async run(ctx) {
    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const load of FANOUT_LOADS) {
      const ours = await ctx.withServers([pushletSpec()], (nodes) => fanout(pushlet, nodes, load, ctx));
      const base = await bareFanout(ctx, load);
      const big = load.subscribers >= 10_000;
      // Every event delivered within a second; the bare long poll has no queue, so only its latency compares.
      figures.push(...fanoutFigures(`3 fan-out ${fanoutLabel(load)}`, ours, base, big ? { p99: below(1000), fraction: atLeast(1), publish: below(50) } : {}));
      details[fanoutLabel(load)] = { ours, bare: base };
    }
    return { figures, details };
  },
};

export const maxFanoutScenario: Scenario = {
  name: 'maxfanout',
  title: '4. max fan-out: 200 pull sessions, 4 publishers flat out; then 20 publishes/s',
  async run(ctx) {
    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const load of MAX_FANOUT_LOADS) {
      const ours = await embeddedFanout(ctx, load);
      const base = await bareFanout(ctx, load);
      const t: FanoutTargets = load.rate ? { p99: atMost(33) } : { delivered: atLeast(62_000) };
      figures.push(...fanoutFigures(`4 max fan-out ${fanoutLabel(load)}`, ours, base, t));
      details[fanoutLabel(load)] = { ours, bare: base };
    }
    return { figures, details };
  },
};
