/** Redis going away and coming back; Redis refusing keyspace notifications. */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields } from '../../src/protocol/event';
import { RedisStore } from '../../src/store/redis';
import type { NewSession } from '../../src/store/store';
import { RedisChild, median, rawClient, sleep } from './support';
import { drain } from '../support/store-contract';
import { eventually, recorder } from '../support/log';
import { waitFor } from '../support/wait';

function rec(id: string): NewSession {
  return { id, format: 'json', temporary: true, createDate: Date.now(), userAgent: 'ua', address: '127.0.0.1' };
}

const ev = (n: number) => ({ event: fields({ p_event: 'data', n: String(n) }) });



describe('Redis store: resilience', function () {
  this.timeout(30_000);

  describe('when Redis goes away and comes back', () => {
    let child: RedisChild;
    let store: RedisStore;
    const log = recorder();

    before(async () => {
      child = await RedisChild.start();
      store = await RedisStore.connect({ url: child.url, pageSize: 100, socketTimeoutMs: 1000, logger: log, javaNodes: 'on' });
    });

    after(async () => {
      await store?.close();
      await child?.remove();
    });

    it('rejects operations with "Redis at host:port is unavailable", keeps running, and carries on after the restart', async () => {
      await store.openSession(rec('r1'));
      expect(await store.enqueue([{ id: 'r1', q: ev(1) }, { id: 'r1', q: ev(2) }])).to.deep.equal(['ok', 'ok']);
      await child.stop();

      const t0 = Date.now();
      for (const op of [
        () => store.getSession('r1'),
        () => store.enqueue([{ id: 'r1', q: ev(3) }]),
        () => drain(store, 'r1'),
        () => waitFor(store, 'r1', 5000),
        () => store.expire(Date.now()),
      ]) {
        const err = await op().then(() => null, (e: Error) => e);
        expect(err, 'rejected').to.be.instanceOf(Error);
        expect(err!.message, 'names the server, no client-library words').to.match(/^Redis at 127\.0\.0\.1:\d+ is unavailable$/);
        expect((err as Error & { code?: string }).code).to.equal('STORE_UNAVAILABLE');
      }
      expect(Date.now() - t0, 'fails fast').to.be.below(3000);
      expect(log.lines.filter((l) => l.level === 'warn' && /unavailable/.test(l.msg))).to.have.length(1);

      await child.restart();
      // Reconnects by itself; the events queued before the outage are still there, in order.
      const taken = await eventually(() => drain(store, 'r1'));
      expect(taken.map((q) => q.event.n)).to.deep.equal(['1', '2']);
      expect(log.lines.some((l) => l.level === 'info' && /available again/.test(l.msg))).to.equal(true);
    });

    it('after the restart, waiters still wake at once on a push (notifications enabled again)', async () => {
      const r: Redis = rawClient(child.url);
      try {
        await eventually(async () => {
          expect(await r.config('GET', 'notify-keyspace-events')).to.satisfy((v: string[]) => /K/.test(v[1]));
        });
        const waiting = waitFor(store, 'r1', 5000);
        await sleep(30);
        const t0 = Date.now();
        await r.lpush('p:eq:r1', '{"p_event":"data","n":"4"}');
        await waiting;
        expect(Date.now() - t0).to.be.below(200);
      } finally {
        r.disconnect();
      }
    });
  });

  describe('when Redis refuses CONFIG SET (no keyspace notifications)', () => {
    let child: RedisChild;
    const stores: RedisStore[] = [];
    const log = recorder();

    before(async () => {
      child = await RedisChild.start(['--rename-command', 'CONFIG', '']);
      for (let i = 0; i < 2; i++) {
        stores.push(await RedisStore.connect({ url: child.url, pageSize: 100, socketTimeoutMs: 1000, pollIntervalMs: 500, logger: log, javaNodes: 'on' }));
      }
    });

    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await child?.remove();
    });

    it('falls back to polling, and says so once per store', () => {
      expect(stores.map((s) => s.polling)).to.deep.equal([true, true]);
      expect(log.lines.filter((l) => l.level === 'warn' && /keyspace notifications/.test(l.msg))).to.have.length(2);
    });

    it('a push by a Java node wakes a waiter within the polling interval', async () => {
      const [a] = stores;
      await a.openSession(rec('p1'));
      const r = rawClient(child.url);
      try {
        const waiting = waitFor(a, 'p1', 5000);
        await sleep(30);
        const t0 = Date.now();
        await r.lpush('p:eq:p1', '{"p_event":"data"}');
        await waiting;
        expect(Date.now() - t0).to.be.below(1000);
      } finally {
        r.disconnect();
      }
    });

    it('an enqueue by another of our nodes wakes a waiter at once (our own channel)', async () => {
      const [a, b] = stores;
      await a.openSession(rec('p2'));
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        const waiting = waitFor(a, 'p2', 5000);
        await sleep(30);
        const t0 = Date.now();
        await b.enqueue([{ id: 'p2', q: ev(i) }]);
        await waiting;
        delays.push(Date.now() - t0);
        await drain(a, 'p2');
      }
      // The 500 ms polling alone would show ~250 ms on average.
      expect(median(delays), `delays ${delays}`).to.be.below(50);
      expect(Math.max(...delays), `delays ${delays}`).to.be.below(1000);
    });
  });
});
