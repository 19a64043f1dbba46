/** Aging compatible with Java nodes (reference/java-redis/aging__*), and safe with many nodes. */
import { expect } from 'chai';
import type Redis from 'ioredis';
import type { RedisStore } from '../../src/store/redis';
import type { NewSession } from '../../src/store/store';
import { connectStore, dumpKeys, expectSameState, javaDump, rawClient, sleep } from './support';

function rec(id: string, temporary: boolean): NewSession {
  return { id, format: 'xml', temporary, createDate: Date.now(), userAgent: 'curl/7.88.1', address: '127.0.0.1' };
}

describe('Redis store: aging', function () {
  this.timeout(15_000);
  let r: Redis;
  const stores: RedisStore[] = [];
  const newStore = async (leaseMs?: number) => {
    const s = await connectStore({ leaseMs });
    stores.push(s);
    return s;
  };

  beforeEach(async () => {
    r = rawClient();
    await r.flushdb();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    r.disconnect();
  });

  it('counts down by the time since the previous pass, as a Java node does', async () => {
    const store = await newStore();
    // Made by "a Java node": no lastSeen of ours.
    await r.hset('p:ss:j', 'timeToLive', '180000', 'temporary', 'true', 'createDate', String(Date.now()), 'format', 'xml');
    await r.zadd('p:zset:as', String(Date.now()), 'j');
    const t = Date.now() + 1000;
    await store.expire(t);
    const first = Number(await r.hget('p:ss:j', 'timeToLive'));
    await store.expire(t + 60_000);
    expect(first - Number(await r.hget('p:ss:j', 'timeToLive'))).to.equal(60_000);
    await store.expire(t + 120_001);
    expect(first - Number(await r.hget('p:ss:j', 'timeToLive'))).to.equal(120_001);
    // Java's aging lock is never left behind.
    expect(await r.hexists('p:ss:j', 'AgingTime')).to.equal(0);
  });

  it('two nodes aging concurrently do not age a session twice as fast as one', async () => {
    const a = await newStore(1000);
    const b = await newStore(1000);
    await a.openSession(rec('shared', true));
    const t0 = Date.now();
    const seen: { node: string; at: number }[] = [];
    // Each node runs its own 100 ms timer, offset from the other's by 50 ms.
    for (let i = 0; i < 30 && seen.length === 0; i++) {
      for (const [name, store] of [['a', a], ['b', b]] as const) {
        await sleep(50);
        for (const s of await store.expire(Date.now())) if (s.id === 'shared') seen.push({ node: name, at: Date.now() - t0 });
      }
    }
    for (let i = 0; i < 4; i++) {
      for (const s of [...(await a.expire(Date.now())), ...(await b.expire(Date.now()))]) {
        if (s.id === 'shared') seen.push({ node: '?', at: Date.now() - t0 });
      }
    }
    expect(seen, 'returned exactly once, by one node').to.have.length(1);
    expect(seen[0].at, 'expired after about the lease').to.be.within(950, 1800);
  });

  it('leaves a session alone while a Java node holds its AgingTime lock; clears a stale lock', async () => {
    const store = await newStore(100);
    await store.openSession(rec('locked', true));
    await r.hset('p:ss:locked', 'AgingTime', String(Date.now()));
    await sleep(150);
    expect((await store.expire(Date.now())).map((s) => s.id)).to.deep.equal([]);
    expect(await r.hget('p:ss:locked', 'timeToLive')).to.equal('100');
    await r.hset('p:ss:locked', 'AgingTime', String(Date.now() - 61_000));
    // This node's next timer tick, one interval later.
    expect((await store.expire(Date.now() + 200)).map((s) => s.id)).to.deep.equal(['locked']);
    expect(await r.hexists('p:ss:locked', 'AgingTime')).to.equal(0);
  });

  it('ends like the Java aging run: temporary session deleted, persistent ones kept at timeToLive 0', async () => {
    // The sessions of aging__t000_after_setup, with a short lease.
    const store = await newStore(300);
    const A = '6d493d14:1a21cfe9218:-8000';
    const idle = 'idle-temp-NOTE-client-pid-makes-it-persistent';
    await store.openSession(rec(idle, false));
    await store.openSession(rec(A, true));
    await store.kick(A, { address: '127.0.0.1', mode: 'pull' });
    await store.subscribe(A, '/age');
    await store.openSession(rec('persist-left', false));
    await store.subscribe('persist-left', '/age');
    await store.stopSession('persist-left');
    const expiredIds: string[] = [];
    for (let i = 0; i < 20 && expiredIds.length < 2; i++) {
      await sleep(50);
      const expired = await store.expire(Date.now());
      expiredIds.push(...expired.map((s) => s.id));
    }
    expect(expiredIds.sort()).to.deep.equal([A, idle].sort());
    expectSameState(await dumpKeys(r), javaDump('aging__t183_after_tick_3'), 'after expiry');
    for (let i = 0; i < 3; i++) expect(await store.expire(Date.now())).to.deep.equal([]);
  });

  it('removes a p:zset:as entry without a session hash once it is older than the lock period', async () => {
    const store = await newStore();
    await r.zadd('p:zset:as', String(Date.now() - 120_000), 'old-ghost');
    await r.hset('p:sc:old-ghost', '/g', '{"subject":"/g","label":null}');
    await r.hset('p:sj:/g', 'old-ghost', '/g');
    await r.zadd('p:zset:sj:/g', '1', 'old-ghost');
    await r.zadd('p:zset:as', String(Date.now()), 'just-joining');
    expect(await store.expire(Date.now())).to.deep.equal([]);
    expect(await r.zrange('p:zset:as', 0, '-1')).to.deep.equal(['just-joining']);
    expect(await r.exists('p:sc:old-ghost', 'p:sj:/g', 'p:zset:sj:/g')).to.equal(0);
  });
});
