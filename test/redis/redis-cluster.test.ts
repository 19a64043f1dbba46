/**
 * The Redis store on a real Redis Cluster (three masters): the whole Store contract, keys spread
 * over the masters, and waiters woken by pushes on any master.
 */
import { expect } from 'chai';
import { RedisStore } from '../../src/store/redis';
import { storeContract } from '../support/store-contract';
import { RedisClusterChildren, rawClient } from './support';

describe('Redis store on Redis Cluster', function () {
  this.timeout(60_000);
  let cluster: RedisClusterChildren;
  const stores: RedisStore[] = [];
  const connect = (pageSize = 100) =>
    RedisStore.connect({ serverlist: cluster.serverlist, cluster: true, pageSize, socketTimeoutMs: 2000 });

  before(async () => {
    cluster = await RedisClusterChildren.start(3);
  });

  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cluster?.remove();
  });

  storeContract('RedisStore (Redis Cluster)', async ({ pageSize }) => {
    await cluster.flushAll();
    return connect(pageSize);
  });

  it('spreads the keys of sessions over the masters and wakes waiters from every one', async () => {
    const a = await connect();
    const b = await connect();
    stores.push(a, b);
    const ids = Array.from({ length: 12 }, (_, i) => `cl-${i}`);
    for (const id of ids) {
      await a.openSession({ id, format: 'js', temporary: true, createDate: Date.now(), userAgent: 'x', address: 'a' }, 60_000);
    }
    const holders = new Set<number>();
    for (const [i, n] of cluster.nodes.entries()) {
      const r = rawClient(n.url);
      if ((await r.keys('p:eq:*')).length + (await r.keys('p:ss:*')).length > 0) holders.add(i);
      r.disconnect();
    }
    expect(holders.size, 'masters holding session keys').to.equal(3);
    for (const id of ids) {
      const waiting = a.waitForEvents(id, 5000);
      const t0 = Date.now();
      await b.enqueue([{ id, q: { event: { p_event: 'data', id } } }], 10);
      await waiting;
      expect(Date.now() - t0, id).to.be.below(200);
      expect((await a.take(id)).map((q) => q.event.id)).to.deep.equal([id]);
    }
  });
});
