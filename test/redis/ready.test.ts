/** Readiness follows Redis: /ready answers 503 with the reason while Redis is away, 200 again after. */
import { expect } from 'chai';
import { http, TestClient } from '../support/client';
import { eventually } from '../support/log';
import { startServer, type Running } from '../support/server';
import { RedisChild } from './support';

describe('readiness with Redis going away', function () {
  this.timeout(30_000);
  let redis: RedisChild;
  let s: Running;
  before(async () => {
    redis = await RedisChild.start();
    s = await startServer({ 'redis.url': redis.url, 'redis.socketto': 500 });
  });
  after(async () => {
    await s?.server.close(500);
    await redis?.remove();
  });

  it('is ready with Redis, answers 503 with the reason without it, and is ready again when it is back', async () => {
    expect((await http(`${s.base}/ready`)).status).to.equal(200);
    await redis.stop();
    const down = await http(`${s.base}/ready`);
    expect(down.status).to.equal(503);
    expect(JSON.parse(down.text)).to.include({ status: 'unavailable' });
    expect(JSON.parse(down.text).reason, 'names Redis and its address').to.match(/^Redis at 127\.0\.0\.1:\d+ is unavailable$/);
    const join = await http(`${s.srv}?p_event=join&p_format=xml`);
    expect(join.status, 'a request that needs Redis').to.equal(503);
    expect((await http(`${s.base}/health`)).status, 'the process itself is alive').to.equal(200);
    await redis.restart();
    await eventually(async () => expect((await http(`${s.base}/ready`)).status).to.equal(200), 10_000, 100);
    const c = new TestClient(s.srv);
    expect((await c.join()).p_event).to.equal('join-ack');
  });
});
