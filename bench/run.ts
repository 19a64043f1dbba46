/**
 * `npm run bench`: runs the scenarios of issue 5 against the pushlet server and a bare Node
 * baseline, prints a table and writes bench/results/<date>.json. See bench/README.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hotSpots, type HotSpot } from './profile';
import { ServerProcess } from './proc';
import { combine, table, type Figure } from './report';
import type { Ctx, Outcome, Scenario } from './scenario';
import { control } from './scenarios/control';
import { fanoutScenario, maxFanoutScenario } from './scenarios/fanout';
import { heldScenario } from './scenarios/held';
import { pullCycle } from './scenarios/pull-cycle';
import { redisScenario } from './scenarios/redis';
import { streamScenario } from './scenarios/stream';

const SCENARIOS: Scenario[] = [control, pullCycle, fanoutScenario, maxFanoutScenario, streamScenario, heldScenario, redisScenario];
const ROOT = join(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');
/** Sockets the bench process may hold at once (10k subscribers plus setup and publishers). */
const NEEDED_FILES = 10_500;

/** Receiver threads of the fan-out and stream scenarios (see README, How it measures). */
const CLIENTS = 1;

const USAGE = `Usage: node dist/bench/run.js [--only a,b] [--duration ms] [--warmup ms] [--clients k] [--repeat n] [--profile]

  --only       scenarios to run: ${SCENARIOS.map((s) => s.name).join(', ')} (default: all)
  --duration   measured window of each run, ms (default 5000)
  --warmup     warm-up before each window, ms (default 1000)
  --clients    threads receiving the events of scenarios 3, 4, 5 and 7 (default ${CLIENTS})
  --repeat     run the scenarios n times (bare baselines too); the summary gives medians, each
               ratio's range and in how many runs a target was met (default 1)
  --profile    write a CPU profile of each pushlet server process and list the top self-time functions`;

function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? NaN);
}

function machine() {
  return { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg(), openFiles: openFilesLimit() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, clients: { type: 'string' },
      repeat: { type: 'string' }, profile: { type: 'boolean' }, help: { type: 'boolean' },
    },
  });
  if (values.help) return console.log(USAGE);
  const names = values.only?.split(',').map((s) => s.trim()) ?? SCENARIOS.map((s) => s.name);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}\n${USAGE}`);
  const window = { durationMs: Number(values.duration ?? 5000), warmupMs: Number(values.warmup ?? 1000) };
  if (!(window.durationMs > 0 && window.warmupMs >= 0)) throw new Error(`--duration and --warmup take milliseconds\n${USAGE}`);
  const clients = Number(values.clients ?? CLIENTS);
  if (!(Number.isInteger(clients) && clients >= 1)) throw new Error(`--clients takes a number of threads\n${USAGE}`);
  const repeat = Number(values.repeat ?? 1);
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new Error(`--repeat takes a number of runs\n${USAGE}`);

  const host = machine();
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*/, '');
  console.log(`pushlet-server bench ${stamp}: ${host.cpus} x ${host.cpu}, ${host.memoryGB} GB, node ${host.node}, load ${host.loadavg.map((l) => l.toFixed(2)).join(' ')}`);
  if (!(host.openFiles >= NEEDED_FILES)) {
    console.warn(`warning: open files limit is ${host.openFiles}; 10k-connection scenarios need ${NEEDED_FILES} (raise it with ulimit -n)`);
  }

  const results: Record<string, Outcome & { title: string; seconds: number; hotSpots?: HotSpot[] }> = {};
  const runs: Figure[][] = [];
  const started = performance.now();
  for (let run = 1; run <= repeat; run++) {
    // Each run measures its own baselines.
    const onceCache = new Map<string, Promise<unknown>>();
    const figures: Figure[] = [];
    runs.push(figures);
    if (repeat > 1) console.log(`\n=== run ${run} of ${repeat}`);
    for (const scenario of SCENARIOS.filter((s) => names.includes(s.name))) {
      const profileDir = values.profile ? join(RESULTS, `prof-${stamp}`, repeat > 1 ? `${scenario.name}-${run}` : scenario.name) : undefined;
      const ctx: Ctx = {
        window,
        clients,
        async withServers(specs, fn) {
          const procs = await Promise.all(specs.map((s) => ServerProcess.start(s, { profileDir: s.kind === 'pushlet' ? profileDir : undefined })));
          try {
            return await fn(procs);
          } finally {
            await Promise.all(procs.map((p) => p.stop()));
          }
        },
        once(key, fn) {
          if (!onceCache.has(key)) onceCache.set(key, fn());
          return onceCache.get(key) as ReturnType<typeof fn>;
        },
      };
      console.log(`\n${scenario.title}`);
      const t0 = performance.now();
      // One broken scenario (or server) does not cost the figures of the others.
      const outcome = await scenario.run(ctx).catch((err: Error): Outcome => ({ figures: [], details: {}, failed: err.stack ?? err.message }));
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      if (outcome.skipped) console.log(`  skipped: ${outcome.skipped}`);
      else if (outcome.failed) console.log(`  FAILED: ${outcome.failed}`);
      else console.log(table(outcome.figures).replace(/^/gm, '  '));
      const entry: (typeof results)[string] = { title: scenario.title, seconds, ...outcome };
      if (profileDir && outcome.figures.length) {
        entry.hotSpots = hotSpots(profileDir, ROOT);
        console.log(`  top self time in the pushlet server (${profileDir}):`);
        for (const h of entry.hotSpots) console.log(`    ${h.percent.toFixed(1).padStart(5)}%  ${String(h.selfMs).padStart(6)} ms  ${h.fn}  ${h.where}`);
      }
      console.log(`  (${seconds} s)`);
      results[repeat > 1 ? `${scenario.name} run ${run}` : scenario.name] = entry;
      figures.push(...outcome.figures);
    }
  }

  const totalSeconds = Math.round((performance.now() - started) / 1000);
  const figures = repeat > 1 ? combine(runs) : runs[0];
  const how = repeat > 1 ? `medians of ${repeat} runs; ratio = ours / bare Node under the same load in the same run` : 'ratio = ours / bare Node under the same load in this run';
  console.log(`\nAll figures (${totalSeconds} s; ${how})\n`);
  console.log(figures.length ? table(figures) : '(no figures)');
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${stamp}.json`);
  writeFileSync(file, JSON.stringify({ date: stamp, machine: host, window, clients, repeat, totalSeconds, figures, runs: repeat > 1 ? runs : undefined, scenarios: results }, null, 2));
  console.log(`\nresults: ${file}`);
  const failed = Object.keys(results).filter((name) => results[name].failed);
  if (failed.length) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
