/**
 * Interop with Java nodes on one Redis: "the Java node" here is a plain client sending exactly
 * the commands of reference/java-redis/monitor_xml-strict_sequence.txt.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields } from '../../src/protocol/event';
import type { RedisStore } from '../../src/store/redis';
import { connectStore, median, rawClient, sleep } from './support';
import { drain } from '../support/store-contract';
import { waitFor } from '../support/wait';

/** What a Java node sends at join (monitor file), for a session made there. */
async function javaJoin(r: Redis, id: string, temporary: boolean): Promise<void> {
  const now = Date.now();
  await r.hmset(`p:ss:${id}`, 'timeToLive', '180000', 'temporary', 'true', 'createDate', String(now), 'format', 'xml', 'address', 'unknown');
  await r.zadd('p:zset:as', `${(now / 1e12).toFixed(12)}E12`, id);
  if (!temporary) await r.hset(`p:ss:${id}`, 'temporary', 'false');
  await r.hset(`p:ss:${id}`, 'userAgent', 'curl/7.88.1');
  await r.hset(`p:ss:${id}`, 'timeToLive', '180000');
  await r.hset(`p:ss:${id}`, 'address', '127.0.0.1');
  await r.hset(`p:ss:${id}`, 'format', 'xml-strict');
}

async function javaSubscribe(r: Redis, id: string, subject: string, label: string | null): Promise<void> {
  await r.hset(`p:sc:${id}`, subject, JSON.stringify({ subject, label }));
  for (const s of subject.split(',')) {
    await r.hset(`p:sj:${s}`, id, subject);
    await r.zadd(`p:zset:sj:${s}`, String(Date.now()), id);
  }
}

/** A Java node's queued data event, as in the dumps. */
const javaEvent = (n: number) =>
  JSON.stringify({ p_from: 'java-pub', p_time: '1795782501', p_event: 'data', p_subject: '/t/a', p_sid: '/t/a', p_id: 'java-pub', n: String(n) });

describe('Redis store: interop with Java nodes', function () {
  this.timeout(10_000);
  let store: RedisStore;
  let java: Redis;

  beforeEach(async () => {
    java = rawClient();
    await java.flushdb();
    store = await connectStore();
  });

  afterEach(async () => {
    await store.close();
    java.disconnect();
  });

  it('reads a session, its mode and its subscriptions made by a Java node', async () => {
    await javaJoin(java, 'j1', false);
    await java.hset('p:sr:j1', 'mode', 'pull');
    await javaSubscribe(java, 'j1', '/t/c', 'lbl-c');
    await javaSubscribe(java, 'j1', '/t/d,/t/e', null);
    expect(await store.getSession('j1')).to.include({
      id: 'j1', format: 'xml-strict', temporary: false, userAgent: 'curl/7.88.1', address: '127.0.0.1', online: true, mode: 'pull',
    });
    const subs: unknown[] = [];
    for (const subject of ['/t/c', '/t/e']) {
      for await (const page of store.subscribersOf(subject)) subs.push(...page.map((s) => [s.id, s.subject, s.label, s.mode]));
    }
    expect(subs).to.deep.equal([['j1', '/t/c', 'lbl-c', 'pull'], ['j1', '/t/d,/t/e', undefined, 'pull']]);
  });

  it('takes events a Java node LPUSHed oldest first, with their p_sid', async () => {
    await javaJoin(java, 'j2', true);
    for (const n of [1, 2, 3]) await java.lpush('p:eq:j2', javaEvent(n));
    const taken = await drain(store, 'j2');
    expect(taken.map((q) => q.event.n)).to.deep.equal(['1', '2', '3']);
    expect(taken.map((q) => q.sid)).to.deep.equal(['/t/a', '/t/a', '/t/a']);
    expect(taken[0].event.p_sid).to.equal(undefined);
    expect(await java.exists('p:eq:j2')).to.equal(0);
  });

  it('a waiter wakes within milliseconds of a Java node pushing to its queue', async () => {
    await javaJoin(java, 'j3', true);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const waiting = waitFor(store, 'j3', 5000);
      await sleep(20);
      const t0 = Date.now();
      await java.lpush('p:eq:j3', javaEvent(i));
      await waiting;
      delays.push(Date.now() - t0);
      await drain(store, 'j3');
    }
    // Without a notification the waiter would sleep its whole 5 s; Java's polling averages 100 ms.
    expect(median(delays), `wake delays ${delays}`).to.be.below(50);
    expect(Math.max(...delays), `wake delays ${delays}`).to.be.below(1000);
  });

  it('a waiter wakes when a Java node stops the session (DEL p:ss)', async () => {
    await javaJoin(java, 'j4', true);
    const waiting = waitFor(store, 'j4', 5000);
    await sleep(20);
    const t0 = Date.now();
    await java.zrem('p:zset:as', 'j4');
    await java.del('p:ss:j4');
    await waiting;
    expect(Date.now() - t0).to.be.below(100);
  });

  it('events we queue are what a Java node reads: JSON of strings, p_sid set, no p_seq, LPOP newest first', async () => {
    await javaJoin(java, 'j5', true);
    const q = (n: number) => ({ event: fields({ p_event: 'data', p_subject: '/t/a', p_from: 'node', p_time: '1795782501', n: String(n) }), sid: '/t/a' });
    await store.enqueue([{ id: 'j5', q: q(1) }, { id: 'j5', q: q(2) }]);
    const newest = JSON.parse((await java.lpop('p:eq:j5'))!) as Record<string, unknown>;
    expect(newest).to.deep.equal({ p_event: 'data', p_subject: '/t/a', p_from: 'node', p_time: '1795782501', n: '2', p_sid: '/t/a' });
    expect(JSON.parse((await java.lpop('p:eq:j5'))!)).to.include({ n: '1' });
  });

  it('respects the queue capacity a Java node checks with LLEN', async () => {
    await javaJoin(java, 'j6', true);
    for (let n = 0; n < 3; n++) await java.lpush('p:eq:j6', javaEvent(n));
    const small = await connectStore({ queueSize: 3 });
    try {
      expect(await small.enqueue([{ id: 'j6', q: { event: fields({ p_event: 'data' }) } }])).to.deep.equal(['full']);
    } finally { await small.close(); }
    expect(await java.llen('p:eq:j6')).to.equal(3);
  });

  it('does not report a lastSeen that a Java node made stale by renewing the lease', async () => {
    await store.openSession({ id: 'j7', format: 'xml', temporary: true, createDate: Date.now(), userAgent: 'ua', address: 'a' });
    await store.kick('j7', { mode: 'pull' });
    await store.subscribe('j7', '/t/seen');
    const seen = async () => {
      const subs: (number | undefined)[] = [];
      for await (const page of store.subscribersOf('/t/seen')) subs.push(...page.map((s) => s.lastSeen));
      return [subs[0], (await store.getSession('j7'))!.lastSeen];
    };
    expect((await seen()).every((v) => typeof v === 'number')).to.equal(true);
    // The client's next refresh is served by a Java node: HSET timeToLive, nothing of ours.
    await java.hset('p:ss:j7', 'timeToLive', '179999');
    expect(await seen()).to.deep.equal([undefined, undefined]);
    await store.kick('j7');
    expect((await seen()).every((v) => typeof v === 'number')).to.equal(true);
    // Our own aging keeps it trusted.
    await store.expire(Date.now() + 1000);
    expect((await seen()).every((v) => typeof v === 'number')).to.equal(true);
  });

  describe('a ghost session (docs/PROTOCOL.md section 11, DIFF 11)', () => {
    const G = '-18d286a2:1a21cfd9220:-7ff8';

    beforeEach(async () => {
      // E09c: the session hash was deleted, its subject entries stayed behind.
      await javaJoin(java, G, true);
      await javaSubscribe(java, G, '/ghost', null);
      await java.del(`p:ss:${G}`);
    });

    it('is never listed as a subscriber; its stale entries are cleaned and no session keys appear', async () => {
      const found: string[] = [];
      for await (const page of store.subscribersOf('/ghost')) found.push(...page.map((s) => s.id));
      expect(found).to.deep.equal([]);
      expect(await java.exists(`p:ss:${G}`, `p:eq:${G}`, `p:sc:${G}`)).to.equal(0);
      expect(await java.hexists('p:sj:/ghost', G)).to.equal(0);
      expect(await java.zscore('p:zset:sj:/ghost', G)).to.equal(null);
    });

    it('gets nothing queued by a publish to it, and is not brought back by a request', async () => {
      expect(await store.enqueue([{ id: G, q: { event: fields({ p_event: 'data', k: 'g' }) } }])).to.deep.equal(['gone']);
      await store.kick(G, { address: '127.0.0.1', mode: 'stream' });
      expect(await java.exists(`p:ss:${G}`, `p:eq:${G}`, `p:sr:${G}`)).to.equal(0);
      expect(await java.hexists('p:sj:/ghost', G)).to.equal(0);
      expect(await java.zscore('p:zset:sj:/ghost', G)).to.equal(null);
    });
  });
});
