import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client, openEach } from '../client';
import { atLeast, atMost, below, figure, ratioAtMost, type Figure, type Target } from '../report';
import type { ServerProcess } from '../proc';
import { RedisServer, REDIS_BIN } from '../redis';
import { pushletSpec, type Ctx, type Scenario } from '../scenario';
import { sleep } from '../stats';
import { pushlet } from '../systems';
import { FANOUT_LOADS, MAX_FANOUT_LOADS, bareFanout, embeddedFanout, fanout, fanoutFigures, fanoutLabel } from './fanout';
import { STREAMS, bareStream, streamFanout, streamFigures } from './stream';

/** The compiled Redis store; the scenario needs it. */
const REDIS_STORE = join(__dirname, '..', '..', 'src', 'store', 'redis', 'index.js');
const NODES = 2;
/** Sessions listed under the subject when counting what one publish costs Redis. */
const ROUND_TRIP_SESSIONS = 1000;
const ROUND_TRIP_PUBLISHES = 5;
/** Java's default `redis.pagesize`, which the server under test keeps. */
const PAGE_SIZE = 100;
/**
 * O(N / pagesize) round trips means a bounded number per page of subscribers, whatever N; one
 * round trip per subscriber would be PAGE_SIZE per page.
 */
const MAX_READS_PER_PAGE = 10;

/**
 * What one publish to ROUND_TRIP_SESSIONS idle sessions costs Redis: read events (each a batch
 * of pipelined commands arriving, so about one per round trip) and commands, from `INFO stats`.
 */
async function publishCost(redis: RedisServer, nodes: ServerProcess[]) {
  const clients = nodes.map((p) => new Client(p.url, 50));
  await openEach(ROUND_TRIP_SESSIONS, (i) => pushlet.pullPath(clients[i % nodes.length]));
  const prefix = await pushlet.publisher(clients[0]);
  await sleep(500);
  // What reading INFO itself adds to the counters.
  const a = await redis.stats();
  const b = await redis.stats();
  const infoReads = b.total_reads_processed - a.total_reads_processed;
  const infoCommands = b.total_commands_processed - a.total_commands_processed;
  let reads = 0;
  let commands = 0;
  for (let i = 0; i < ROUND_TRIP_PUBLISHES; i++) {
    const before = await redis.stats();
    await clients[0].get(`${prefix}&bt=0`);
    await sleep(200);
    const after = await redis.stats();
    reads += after.total_reads_processed - before.total_reads_processed - infoReads;
    commands += after.total_commands_processed - before.total_commands_processed - infoCommands;
  }
  for (const c of clients) c.close();
  return { sessions: ROUND_TRIP_SESSIONS, pageSize: PAGE_SIZE, readsPerPublish: reads / ROUND_TRIP_PUBLISHES, commandsPerPublish: commands / ROUND_TRIP_PUBLISHES };
}

/** Issue 12: the publish request answers within this whatever the number of subscribers. */
const PUBLISH_P99_MS = 20;
/** Issue 12: Redis CPU per delivered event at most this (µs). */
const MAX_REDIS_CPU_US_PER_EVENT = 15;

/** What Redis spent per delivered event (the commands behind it are in the JSON details). */
function redisFigures(scenario: string, r: { redisCpuUsPerEvent?: number; redisCommandsPerEvent?: number; redisCommandsPerEventByName?: Record<string, number> }, cpu?: Target): Figure[] {
  const byName = Object.entries(r.redisCommandsPerEventByName ?? {}).map(([name, n]) => `${name} ${n}`).join(', ');
  console.log(`  ${scenario}: Redis commands per delivered event: ${byName}`);
  return [
    figure(scenario, 'Redis CPU per delivered event', 'µs', r.redisCpuUsPerEvent ?? NaN, undefined, cpu),
    figure(scenario, 'Redis commands per delivered event', 'commands', r.redisCommandsPerEvent ?? NaN),
  ];
}

export const redisScenario: Scenario = {
  name: 'redis',
  title: '7. Redis store, two nodes: scenarios 3, 4 and 5, publisher on node 1, subscribers split',
  async run(ctx: Ctx) {
    if (!existsSync(REDIS_STORE)) return { figures: [], details: {}, skipped: `${REDIS_STORE} is not built` };
    if (!existsSync(REDIS_BIN)) return { figures: [], details: {}, skipped: `no redis-server at ${REDIS_BIN}` };
    const redis = await RedisServer.start();
    try {
      const specs = Array.from({ length: NODES }, () => pushletSpec({}, redis.url));
      const onNodes = async <T>(fn: (nodes: ServerProcess[]) => Promise<T>): Promise<T> => {
        await redis.admin.flushall();
        return ctx.withServers(specs, fn);
      };
      try {
        await onNodes(async () => undefined);
      } catch (err) {
        return { figures: [], details: {}, skipped: `the server does not start on the Redis store: ${(err as Error).message}` };
      }
      const figures: Figure[] = [];
      const details: Record<string, unknown> = {};
      for (const load of FANOUT_LOADS) {
        const ours = await onNodes((nodes) => fanout(pushlet, nodes, load, ctx, redis));
        const big = load.subscribers >= 10_000;
        const s = `7 redis fan-out ${fanoutLabel(load)}`;
        figures.push(
          ...fanoutFigures(s, ours, await bareFanout(ctx, load), big ? { p99: below(500), publish: atMost(PUBLISH_P99_MS) } : { publish: atMost(PUBLISH_P99_MS) }),
          ...redisFigures(s, ours),
        );
        details[`fanout ${fanoutLabel(load)}`] = ours;
      }
      for (const load of MAX_FANOUT_LOADS) {
        const ours = await onNodes((nodes) => fanout(pushlet, nodes, load, ctx, redis));
        const embedded = await embeddedFanout(ctx, load);
        const t = load.rate ? { p99: atMost(33), publish: atMost(PUBLISH_P99_MS) } : { delivered: atLeast(31_000) };
        const s = `7 redis max fan-out ${fanoutLabel(load)}`;
        figures.push(
          ...fanoutFigures(s, ours, await bareFanout(ctx, load), t),
          figure(s, 'node CPU per delivered event vs embedded store (bare column: embedded)', 'µs', ours.cpuUsPerEvent, embedded.cpuUsPerEvent, ratioAtMost(1.5)),
          figure(s, 'delivered events/s vs embedded store (bare column: embedded)', 'ev/s', ours.deliveredPerSecond, embedded.deliveredPerSecond),
          ...redisFigures(s, ours, atMost(MAX_REDIS_CPU_US_PER_EVENT)),
        );
        details[`max fanout ${fanoutLabel(load)}`] = { ours, embedded };
      }
      const stream = await onNodes((nodes) => streamFanout(pushlet, nodes, STREAMS, ctx, redis));
      figures.push(...streamFigures('7 redis stream N=10k 1/s', stream, await bareStream(ctx), below(150)), ...redisFigures('7 redis stream N=10k 1/s', stream));
      details.stream = stream;

      const cost = await onNodes((nodes) => publishCost(redis, nodes));
      const pages = Math.ceil(cost.sessions / cost.pageSize);
      const s = `7 redis publish to N=${cost.sessions}`;
      figures.push(
        figure(s, 'Redis read events per publish', 'reads', cost.readsPerPublish),
        figure(s, 'Redis read events per page of subscribers', 'reads', cost.readsPerPublish / pages, undefined, atMost(MAX_READS_PER_PAGE)),
        figure(s, 'Redis commands per subscriber', 'commands', cost.commandsPerPublish / cost.sessions),
      );
      details.publishCost = cost;
      return { figures, details };
    } finally {
      await redis.stop();
    }
  },
};
