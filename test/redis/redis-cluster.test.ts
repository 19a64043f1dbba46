/**
 * The Redis store on a real Redis Cluster (three masters): the whole Store contract, keys spread
 * over the masters, and waiters woken by pushes on any master.
 */
import { expect } from 'chai';
import { RedisStore } from '../../src/store/redis';
import type { StoreSettings } from '../../src/store/store';
import { storeContract, drain } from '../support/store-contract';
import { RedisClusterChildren, rawClient, sleep } from './support';
import { eventually } from '../support/log';
import { waitFor } from '../support/wait';

describe('Redis store on Redis Cluster', function () {
  this.timeout(60_000);
  let cluster: RedisClusterChildren;
  const stores: RedisStore[] = [];
  const connect = (settings: Partial<StoreSettings> = {}) =>
    RedisStore.connect({ serverlist: cluster.serverlist, cluster: true, socketTimeoutMs: 2000, ...settings });

  before(async () => {
    cluster = await RedisClusterChildren.start(3);
  });

  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cluster?.remove();
  });

  storeContract('RedisStore (Redis Cluster)', async (settings) => {
    await cluster.flushAll();
    return connect(settings);
  });

  it('spreads the keys of sessions over the masters and wakes waiters from every one', async () => {
    const a = await connect();
    const b = await connect();
    stores.push(a, b);
    const ids = Array.from({ length: 12 }, (_, i) => `cl-${i}`);
    for (const id of ids) {
      await a.openSession({ id, format: 'js', temporary: true, createDate: Date.now(), userAgent: 'x', address: 'a' });
    }
    const holders = new Set<number>();
    for (const [i, n] of cluster.nodes.entries()) {
      const r = rawClient(n.url);
      if ((await r.keys('p:eq:*')).length + (await r.keys('p:ss:*')).length > 0) holders.add(i);
      r.disconnect();
    }
    expect(holders.size, 'masters holding session keys').to.equal(3);
    for (const id of ids) {
      const waiting = waitFor(a, id, 5000);
      const t0 = Date.now();
      await b.enqueue([{ id, q: { event: { p_event: 'data', id } } }]);
      await waiting;
      expect(Date.now() - t0, id).to.be.below(200);
      expect((await drain(a, id)).map((q) => q.event.id)).to.deep.equal([id]);
    }
  });
});

describe('Redis store on Redis Cluster: failover', function () {
  this.timeout(60_000);
  let cluster: RedisClusterChildren;
  let store: RedisStore;

  before(async () => {
    cluster = await RedisClusterChildren.start(3);
    await cluster.addReplica(0);
    store = await RedisStore.connect({ serverlist: cluster.serverlist, cluster: true, pageSize: 100, socketTimeoutMs: 2000, javaNodes: 'on' });
  });

  after(async () => {
    await store?.close();
    await cluster?.remove();
  });

  it('keeps serving and waking waiters after a replica takes over a master', async () => {
    const [oldMaster, , , replica] = cluster.nodes;
    const r = rawClient(replica.url);
    const om = rawClient(oldMaster.url);
    try {
      // A session whose queue lives on master 0, which holds the first third of the slots.
      let id = '';
      for (let i = 0; !id; i++) if (((await om.cluster('KEYSLOT', `p:eq:fo-${i}`)) as number) < 16384 / 3) id = `fo-${i}`;
      await store.openSession({ id, format: 'js', temporary: false, createDate: Date.now(), userAgent: 'x', address: 'a' });

      await r.cluster('FAILOVER');
      const deadline = Date.now() + 20_000;
      while (!/role:master/.test(await r.info('replication'))) {
        if (Date.now() > deadline) throw new Error('failover did not happen');
        await sleep(100);
      }
      // The store learns the new topology as it goes (MOVED); a push on the new master wakes it.
      const session = await eventually(() => store.getSession(id), 15_000, 200);
      expect(session).to.include({ id, online: true });
      const waiting = waitFor(store, id, 5000);
      await sleep(50);
      const t0 = Date.now();
      await r.lpush(`p:eq:${id}`, '{"p_event":"data","n":"after-failover"}');
      await waiting;
      expect(Date.now() - t0).to.be.below(300);
      expect((await drain(store, id)).map((q) => q.event.n)).to.deep.equal(['after-failover']);
    } finally {
      r.disconnect();
      om.disconnect();
    }
  });
});

