import type { Run, Window } from './load';
import { cpuPercent, type ServerProcess, type ServerSpec } from './proc';
import type { Figure } from './report';
import type { RedisServer } from './redis';
import { usageBetween } from './redis';
import { now, sleep } from './stats';

/** What the runner gives each scenario. */
export interface Ctx {
  window: Window;
  /** Threads that receive the events of the fan-out and stream scenarios (`--clients`). */
  clients: number;
  /** Starts server processes, runs `fn` on them, stops them (also when `fn` fails). */
  withServers<T>(specs: ServerSpec[], fn: (procs: ServerProcess[]) => Promise<T>): Promise<T>;
  /**
   * What `fn` measures, once per run for each `key`: the bare baselines (scenario 7 reuses 3-5's)
   * and the embedded figures scenario 7 sets beside Redis's.
   */
  once<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export interface Outcome {
  figures: Figure[];
  /** Everything measured, for the JSON results. */
  details: Record<string, unknown>;
  /** Why the scenario did not run. */
  skipped?: string;
  /** The error that stopped it. */
  failed?: string;
}

export interface Scenario {
  /** For `--only`. */
  name: string;
  title: string;
  run(ctx: Ctx): Promise<Outcome>;
}

/** Settings of every pushlet server under test: Java's defaults, without logging. */
/** The load comes from one address: it may open as many sessions as the scenarios need. */
export const PUSHLET_SETTINGS = { 'log.level': 0, 'limit.sessions.per.address': 1_000_000 };

export const pushletSpec = (extra: Record<string, string | number> = {}, redisUrl?: string): ServerSpec => ({
  kind: 'pushlet', overrides: { ...PUSHLET_SETTINGS, ...extra }, redisUrl,
});
export const BARE_SPEC: ServerSpec = { kind: 'bare' };
/** The node:net prototype of issue 16 (net-bare.ts): the same paths as BARE_SPEC's. */
export const NET_SPEC: ServerSpec = { kind: 'net' };

/**
 * CPU use (% of one core) over the measured window of `run`: of each server process, and of the
 * bench process generating the load, all its threads (publisher, receivers) together; near 100
 * per thread means the generator, not the server, is the limit.
 */
export async function cpuDuring(procs: ServerProcess[], run: Run, redis?: RedisServer): Promise<WindowCpu> {
  await sleep(Math.max(0, run.start - now()));
  const [a, ra] = await Promise.all([Promise.all(procs.map((p) => p.stats())), redis?.usage()]);
  const ga = { cpu: process.cpuUsage(), at: now() };
  await run.untilEnd();
  const [b, rb] = await Promise.all([Promise.all(procs.map((p) => p.stats())), redis?.usage()]);
  const g = process.cpuUsage(ga.cpu);
  return {
    servers: a.map((s, i) => Math.round(cpuPercent(s, b[i]))),
    generator: Math.round((g.user + g.system) / 10 / (now() - ga.at)),
    redis: ra && rb ? usageBetween(ra, rb) : undefined,
  };
}

export interface WindowCpu {
  /** % of one core, per server process. */
  servers: number[];
  /** % of one core, the bench process. */
  generator: number;
  /** What the Redis server did over the window, when one was watched. */
  redis?: ReturnType<typeof usageBetween>;
}

/**
 * CPU time per unit of work (request, cycle, delivered event), µs, from the CPU use (% of one
 * core) of processes over the window (the server nodes, summed; or the generator): less
 * disturbed than rates when other processes share the machine.
 */
export function cpuPerUnit(percents: number[], units: number, seconds: number): number {
  const busy = percents.reduce((a, b) => a + b, 0) / 100;
  return units > 0 ? (busy * seconds * 1e6) / units : NaN;
}
