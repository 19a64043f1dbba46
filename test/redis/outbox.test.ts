/**
 * The Redis outbox (src/store/redis/outbox.ts) as a store verb: keep and release, and taking over
 * what a stopped node left, entries that are not publishes included. What it does for a killed
 * node's clients is tested in test/faults/delivery.test.ts.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields } from '../../src/protocol/event';
import type { RedisStore } from '../../src/store/redis';
import { connectStore, rawClient } from './support';

describe('Redis store: the outbox of publishes answered before their fan-out', () => {
  let store: RedisStore;
  let r: Redis;
  const dead = `dead-node-${Date.now()}`;

  before(async () => {
    store = await connectStore({ adoptAfterMs: 1000 });
    r = rawClient();
  });

  after(async () => {
    await r.del(`pushlet:outbox:${dead}`);
    await r.zrem('pushlet:outboxes', dead);
    r.disconnect();
    await store.close();
  });

  it('keeps a publish until released', async () => {
    const p = { event: fields({ p_event: 'data', p_subject: '/o/a', n: '1' }), onlineOnly: false };
    await store.outbox.keep(p);
    const own = (await r.keys('pushlet:outbox:*')).filter((k) => !k.endsWith(dead));
    const held = (await Promise.all(own.map((k) => r.lrange(k, 0, -1)))).flat().map((j) => JSON.parse(j) as { e: Record<string, string> });
    expect(held.some((x) => x.e.p_subject === '/o/a')).to.equal(true);
    await store.outbox.release(p);
    const after = (await Promise.all(own.map((k) => r.lrange(k, 0, -1)))).flat();
    expect(after.some((j) => j.includes('/o/a'))).to.equal(false);
  });

  it("takes over a stopped node's outbox, skipping entries that are not publishes, and removes it", async () => {
    await r.rpush(`pushlet:outbox:${dead}`, 'not json', '{"e":"text"}', '[]', JSON.stringify({ e: { p_event: 'data', p_subject: '/o/b', n: '7', x: 1 }, o: true, t: 'x' }));
    await r.zadd('pushlet:outboxes', Date.now() - 60_000, dead);
    const adopted = await store.outbox.adopt();
    const mine = adopted.filter((p) => p.event.p_subject === '/o/b');
    expect(mine).to.have.length(1);
    // Only string fields are taken: a number is not a value a client could have sent.
    expect({ ...mine[0].event }).to.deep.equal({ p_event: 'data', p_subject: '/o/b', n: '7' });
    expect(mine[0].onlineOnly).to.equal(true);
    expect(await r.exists(`pushlet:outbox:${dead}`)).to.equal(0);
    expect(await r.zscore('pushlet:outboxes', dead)).to.equal(null);
    await store.outbox.release(mine[0]);
  });
});
