/**
 * Publishing to N subscribers costs O(N / pageSize) round trips, never one per subscriber: with
 * every round trip slowed down to 50 ms, the clock tells (one per subscriber would take 15 s; the
 * bounds leave room for client CPU time on a busy machine).
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields } from '../../src/protocol/event';
import type { RedisStore } from '../../src/store/redis';
import { SlowProxy, connectStore, rawClient, testRedisUrl, TEST_DB } from './support';

const DELAY = 50;
const N = 300;

describe('Redis store: round trips per publish', function () {
  this.timeout(30_000);
  let proxy: SlowProxy;
  let store: RedisStore;
  let r: Redis;

  before(async () => {
    r = rawClient();
    await r.flushdb();
    // Set up N subscribers directly, as Java nodes would have written them.
    const batch = r.pipeline();
    for (let i = 0; i < N; i++) {
      const id = `rt-${i}`;
      batch.hset(`p:ss:${id}`, 'timeToLive', '180000', 'temporary', 'true', 'format', 'xml', 'createDate', String(Date.now()));
      batch.hset(`p:sc:${id}`, '/rt', '{"subject":"/rt","label":null}');
      batch.hset('p:sj:/rt', id, '/rt');
      batch.zadd('p:zset:sj:/rt', String(i), id);
    }
    await batch.exec();
    proxy = await SlowProxy.start(Number(new URL(testRedisUrl()).port), DELAY);
    store = await connectStore({ url: `redis://127.0.0.1:${proxy.port}/${TEST_DB}`, pageSize: 100, subjectMatch: 'prefix' });
  });

  after(async () => {
    await store.close();
    await proxy.close();
    r.disconnect();
  });

  it(`lists ${N} subscribers in a handful of round trips`, async () => {
    const t0 = Date.now();
    let count = 0;
    for await (const page of store.subscribersOf('/rt')) count += page.length;
    const ms = Date.now() - t0;
    expect(count).to.equal(N);
    // First pages of all parts: 1; per page of 100: read 1 + next page 1 -> 7 round trips.
    expect(ms, `${ms} ms`).to.be.below(20 * DELAY);
  });

  it(`enqueues to ${N} sessions in two round trips`, async () => {
    const deliveries = Array.from({ length: N }, (_, i) => ({ id: `rt-${i}`, q: { event: fields({ p_event: 'data' }), sid: '/rt' } }));
    const t0 = Date.now();
    const results = await store.enqueue(deliveries);
    const ms = Date.now() - t0;
    expect(results.every((x) => x === 'ok')).to.equal(true);
    expect(ms, `${ms} ms`).to.be.below(10 * DELAY);
  });

  it('looks up every prefix of a 1,024-character subject in one command, not one per character', async () => {
    const subject = '/' + 'long/'.repeat(204) + 'end';
    expect(subject).to.have.length(1024);
    const part = subject.slice(0, 517);
    await r.hset('p:ss:rt-long', 'timeToLive', '180000', 'temporary', 'true', 'format', 'xml', 'createDate', String(Date.now()));
    await r.hset('p:sc:rt-long', part, JSON.stringify({ subject: part, label: null }));
    await r.hset(`p:sj:${part}`, 'rt-long', part);
    await r.zadd(`p:zset:sj:${part}`, '1', 'rt-long');
    const before = store.stats().commands;
    const t0 = Date.now();
    const found: string[] = [];
    for await (const page of store.subscribersOf(subject)) found.push(...page.map((s) => s.id));
    const ms = Date.now() - t0;
    expect(found).to.deep.equal(['rt-long']);
    // One call for all 1,024 first pages, one read of the subscriber page.
    expect(store.stats().commands - before).to.be.at.most(3);
    expect(ms, `${ms} ms`).to.be.below(8 * DELAY);
  });
});
