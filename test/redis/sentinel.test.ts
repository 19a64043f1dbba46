/** The Redis store behind Redis Sentinel, addressed by a `redis-sentinel://` URL. */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RedisStore } from '../../src/store/redis';
import { freePort } from '../support/net';
import { RedisChild, rawClient, sleep } from './support';
import { drain } from '../support/store-contract';
import { waitFor } from '../support/wait';

/** A redis-server in sentinel mode watching `master` under the name `mymaster`. */
async function startSentinel(master: RedisChild): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const conf = path.join(master.dir, 'sentinel.conf');
  fs.writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${master.dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`);
  const proc = spawn(process.env.PUSHLET_TEST_REDIS_BIN ?? '/usr/bin/redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = rawClient(`redis://127.0.0.1:${port}`);
    const known = await c.call('SENTINEL', 'get-master-addr-by-name', 'mymaster').then((v) => Array.isArray(v), () => false);
    c.disconnect();
    if (known) return { port, proc };
    if (Date.now() > deadline) throw new Error('redis sentinel did not start');
    await sleep(100);
  }
}

describe('Redis store behind Sentinel', function () {
  this.timeout(30_000);
  let master: RedisChild;
  let sentinel: { port: number; proc: ChildProcess };
  let store: RedisStore;

  before(async () => {
    master = await RedisChild.start();
    sentinel = await startSentinel(master);
    store = await RedisStore.connect({ url: `redis-sentinel://127.0.0.1:${sentinel.port}/3#mymaster`, pageSize: 10, leaseMs: 60_000, socketTimeoutMs: 2000, javaNodes: 'on' });
  });

  after(async () => {
    await store?.close();
    sentinel?.proc.kill('SIGKILL');
    await master?.remove();
  });

  it('finds the master through the sentinel and serves sessions, queues and wake-ups there', async () => {
    await store.openSession({ id: 's1', format: 'js', temporary: true, createDate: Date.now(), userAgent: 'x', address: 'a' });
    const m = rawClient(`${master.url}/3`);
    try {
      expect(await m.hget('p:ss:s1', 'timeToLive')).to.equal('60000');
      const waiting = waitFor(store, 's1', 5000);
      await sleep(20);
      const t0 = Date.now();
      await m.lpush('p:eq:s1', '{"p_event":"data","n":"1"}');
      await waiting;
      expect(Date.now() - t0).to.be.below(200);
      expect((await drain(store, 's1')).map((q) => q.event.n)).to.deep.equal(['1']);
    } finally {
      m.disconnect();
    }
  });
});
