import { Client } from './client';
import { Run, publish } from './load';
import type { ServerProcess } from './proc';
import { Receivers, type ReceiverJob } from './receivers';
import type { RedisServer } from './redis';
import { cpuDuring, cpuPerUnit, type Ctx, type WindowCpu } from './scenario';
import type { System } from './systems';

/**
 * One delivery measurement (scenarios 3, 4, 5 and 7): `n` subscribers in `mode` on the
 * subject, spread over the nodes in turn and over the receiver threads, while a publisher
 * thread publishes with `load` on the first node during the window; each event carries its
 * send time.
 */
export async function deliver(
  sys: System, nodes: ServerProcess[], mode: ReceiverJob['mode'], n: number,
  load: { rate?: number; publishers?: number }, ctx: Pick<Ctx, 'window' | 'clients'>, redis?: RedisServer,
) {
  const receivers = await Receivers.start({ mode, system: sys.kind, urls: nodes.map((p) => p.url) }, n, ctx.clients, sys.queues);
  const measure = async () => {
    // The subscribers' connections are busy: the publisher joins on one of its own.
    const setup = new Client(nodes[0].url, 1);
    const prefix = await sys.publisher(setup).finally(() => setup.close());
    const run = new Run().open(ctx.window);
    receivers.open(run);
    const cpu = cpuDuring(nodes, run, redis);
    const published = await publish(run, nodes[0].url, prefix, load);
    const got = await receivers.finish(published.inWindow);
    return { run, published, got, usage: await cpu };
  };
  // Receiver threads left looping after a failure would keep the bench process alive.
  const { run, published, got, usage } = await measure().catch(async (err: Error) => {
    await receivers.stop();
    throw err;
  });
  return {
    nodes: nodes.length, receiverThreads: receivers.threadCount, openSeconds: receivers.openSeconds,
    deliveredPerSecond: got.received / run.seconds,
    fraction: got.expected ? got.received / got.expected : NaN,
    publishesPerSecond: published.inWindow / run.seconds,
    latency: got.latency.summary(), publishDuration: published.duration.summary(),
    errors: got.errors + published.errors,
    errorSamples: [...published.errorSamples, ...got.errorSamples].slice(0, 5),
    cpu: usage, cpuUsPerEvent: cpuPerUnit(usage.servers, got.received, run.seconds),
    generatorCpuUsPerEvent: cpuPerUnit([usage.generator], got.received, run.seconds),
    ...(usage.redis && redisCost(usage.redis, got.received)),
  };
}

/** What Redis spent per delivered event over the window: CPU (µs), commands, and the commands that made them. */
function redisCost(used: NonNullable<WindowCpu['redis']>, delivered: number) {
  const per = (n: number) => (delivered > 0 ? n / delivered : NaN);
  return {
    redisCpuUsPerEvent: per(used.cpuMs * 1000),
    redisCommandsPerEvent: per(used.total),
    redisCommandsPerEventByName: Object.fromEntries(Object.entries(used.calls).slice(0, 10).map(([name, n]) => [name, Math.round(per(n) * 1000) / 1000])),
  };
}
