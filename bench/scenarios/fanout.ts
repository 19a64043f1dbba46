import { Client, openEach, sendTimes } from '../client';
import { Run, publish, type Window } from '../load';
import type { ServerProcess } from '../proc';
import { atLeast, atMost, below, figure, type Figure, type Target } from '../report';
import { BARE_SPEC, cpuDuring, cpuPerUnit, pushletSpec, type Ctx, type Scenario } from '../scenario';
import { Samples, now, sleep } from '../stats';
import { bare, pushlet, type System } from '../systems';

/** How long receivers may take after the window to get the events published in it. */
const GRACE_MS = 3000;

export interface FanoutLoad {
  subscribers: number;
  /** Publishes per second on a schedule; without it, `publishers` loops as fast as they go. */
  rate?: number;
  publishers?: number;
}

export type FanoutResult = Awaited<ReturnType<typeof fanout>>;

/**
 * Pull sessions looping `refresh` at once (ignoring p_wait, so latency is the server's, not the
 * client's pause) while events are published on their subject. Sessions are spread over the
 * nodes in turn; the publisher (a worker thread) uses the first node. Each event carries its send time.
 */
export async function fanout(sys: System, nodes: ServerProcess[], load: FanoutLoad, window: Window) {
  const n = load.subscribers;
  const run = new Run();
  const latency = new Samples();
  let received = 0;
  const cycle = async (c: Client, path: string) => {
    const body = await c.get(path);
    const t = now();
    for (const bt of sendTimes(body)) {
      if (!run.inWindow(bt)) continue;
      received++;
      latency.add(t - bt);
    }
  };
  // Each subscriber has a connection of its own and starts looping as soon as it has joined: an
  // idle connection would be closed by the server (keep-alive timeout, 5 s) while the others
  // join, and thousands reconnecting at once overflow the listen backlog.
  const loops: Promise<void>[] = [];
  const clients = await openEach(n, async (i) => {
    const c = new Client(nodes[i % nodes.length].url, 1);
    const path = await sys.pullPath(c);
    loops.push(run.loop(() => cycle(c, path), false));
    return c;
  });
  // The subscribers' connections are busy: the publisher joins on one of its own.
  const setup = new Client(nodes[0].url, 1);
  const prefix = await sys.publisher(setup);
  setup.close();
  run.open(window);
  const cpu = cpuDuring(nodes, run);
  const published = await publish(run, nodes[0].url, prefix, load);
  const expected = published.inWindow * n;
  for (const graceEnd = now() + GRACE_MS; received < expected && now() < graceEnd;) await sleep(50);
  // Deliveries that never came count as infinitely late, so p99 cannot look good while a server with queues loses events.
  if (sys.queues) latency.addMissing(expected - received);
  run.stopped = true;
  for (const c of clients) c.close();
  await Promise.all(loops);
  const usage = await cpu;
  return {
    subscribers: n, nodes: nodes.length,
    deliveredPerSecond: received / run.seconds,
    fraction: expected ? received / expected : NaN,
    publishesPerSecond: published.inWindow / run.seconds,
    latency: latency.summary(), publishDuration: published.duration.summary(),
    errors: clients.reduce((a, c) => a + c.errors, published.errors),
    errorSamples: [...published.errorSamples, ...clients.flatMap((c) => c.errorSamples)].slice(0, 5),
    cpu: usage, cpuUsPerEvent: cpuPerUnit(usage, received, run.seconds),
  };
}

/** The bare baseline of a fan-out load, measured once per run (scenario 7 compares to it too). */
export function bareFanout(ctx: Ctx, load: FanoutLoad): Promise<FanoutResult> {
  return ctx.bare(`fanout ${JSON.stringify(load)}`, () => ctx.withServers([BARE_SPEC], (nodes) => fanout(bare, nodes, load, ctx.window)));
}

export interface FanoutTargets {
  p99?: Target;
  publish?: Target;
  delivered?: Target;
}

/** The figures of one fan-out measurement against its baseline. */
export function fanoutFigures(scenario: string, ours: FanoutResult, base: FanoutResult, t: FanoutTargets = {}): Figure[] {
  return [
    figure(scenario, 'delivered events/s', 'ev/s', ours.deliveredPerSecond, base.deliveredPerSecond, t.delivered),
    figure(scenario, 'fraction delivered', 'ratio', ours.fraction, base.fraction),
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
      const ours = await ctx.withServers([pushletSpec()], (nodes) => fanout(pushlet, nodes, load, ctx.window));
      const base = await bareFanout(ctx, load);
      const big = load.subscribers >= 10_000;
      figures.push(...fanoutFigures(`3 fan-out ${fanoutLabel(load)}`, ours, base, big ? { p99: below(250), publish: below(50) } : {}));
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
      const ours = await ctx.withServers([pushletSpec()], (nodes) => fanout(pushlet, nodes, load, ctx.window));
      const base = await bareFanout(ctx, load);
      const t: FanoutTargets = load.rate ? { p99: atMost(33) } : { delivered: atLeast(62_000) };
      figures.push(...fanoutFigures(`4 max fan-out ${fanoutLabel(load)}`, ours, base, t));
      details[fanoutLabel(load)] = { ours, bare: base };
    }
    return { figures, details };
  },
};
