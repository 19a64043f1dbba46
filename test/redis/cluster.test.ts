/**
 * Several server instances (nodes) on one Redis, in one process: any node serves any request of
 * any session. Each node has its own Redis store, as separate processes would.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { RedisStore } from '../../src/store/redis';
import { http, parseXmlEvents, qs, stream, TestClient, type Ev } from '../support/client';
import { startServer, type Running } from '../support/server';
import { RedisChild, rawClient, sleep, storeUrl } from './support';

/** Settings of every node: exact matching, as beside Java nodes. */
const NODE = { 'subject.match': 'exact' };

/** `n` nodes, each selecting its own Redis store by `redis.url` as a deployment would. */
async function startNodes(n: number, url = storeUrl(), overrides: Record<string, string | number> = {}): Promise<Running[]> {
  const nodes: Running[] = [];
  for (let i = 0; i < n; i++) {
    const node = await startServer({ ...NODE, 'redis.url': url, 'redis.socketto': 1000, ...overrides });
    expect(node.server.store, 'the store redis.url selects').to.be.instanceOf(RedisStore);
    nodes.push(node);
  }
  return nodes;
}

/** A client of session `id` talking to another node. */
function via(node: Running, id: string): TestClient {
  const c = new TestClient(node.srv);
  c.id = id;
  return c;
}

/** A publishing session per node (a publish needs a session id); joined on first use. */
const publishers = new Map<Running, TestClient>();

/** Publishes through `node`; the HTTP status. */
async function publish(node: Running, fields: Record<string, string>): Promise<number> {
  let pub = publishers.get(node);
  if (!pub) {
    pub = new TestClient(node.srv);
    await pub.join();
    publishers.set(node, pub);
  }
  return (await pub.send({ p_event: 'publish', p_id: pub.id, ...fields })).reply.status;
}

describe('cluster: several nodes on one Redis', function () {
  this.timeout(30_000);
  let r: Redis;
  let nodes: Running[] = [];

  beforeEach(async () => {
    r = rawClient();
    await r.flushdb();
  });

  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.server.close(500)));
    nodes = [];
    publishers.clear();
    r.disconnect();
  });

  it('join on A, listen and refresh on B, publish on C', async () => {
    nodes = await startNodes(3);
    const [a, b, c] = nodes;
    const joined = new TestClient(a.srv);
    await joined.join();
    const onB = via(b, joined.id);
    expect((await onB.event('listen', { p_mode: 'pull', p_subject: '/cl/abc' })).map((e) => e.p_event)).to.deep.equal(['listen-ack', 'refresh']);
    expect(await publish(c, { p_subject: '/cl/abc', n: '1' })).to.equal(200);
    const got = await onB.refresh();
    expect(got.map((e) => [e.n, e.p_sid])).to.deep.equal([['1', '/cl/abc']]);
  });

  it('a stream held by A gets an event published on B within milliseconds', async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes;
    const j = parseXmlEvents((await http(`${a.srv}?${qs({ p_event: 'join', p_format: 'xml' })}`)).text)[0];
    let opened = 0;
    const listening = stream(
      `${a.srv}?${qs({ p_event: 'listen', p_id: j.p_id, p_mode: 'stream', p_subject: '/cl/stream' })}`,
      (text) => text.includes('n="1"'),
      5000,
      () => (opened = Date.now()),
    );
    await sleep(150);
    const t0 = Date.now();
    await publish(b, { p_subject: '/cl/stream', n: '1' });
    const reply = await listening;
    expect(reply.completed, 'event arrived').to.equal(true);
    expect(opened).to.be.above(0);
    expect(Date.now() - t0).to.be.below(300);
  });

  it('unicast across nodes (p_to)', async () => {
    nodes = await startNodes(3);
    const [a, b, c] = nodes;
    const target = await new TestClient(a.srv).joinPull('/cl/nobody');
    const sender = new TestClient(c.srv);
    await sender.join();
    await sender.event('publish', { p_subject: '/cl/uni', p_to: target.id, k: 'uni' });
    const got = await via(b, target.id).refresh();
    expect(got.map((e) => [e.k, e.p_to, e.p_sid])).to.deep.equal([['uni', target.id, undefined]]);
  });

  it('a persistent session re-joins on another node and finds what was queued while it was away', async () => {
    nodes = await startNodes(3);
    const [a, b, c] = nodes;
    const id = `persist-${Date.now()}`;
    const p = new TestClient(a.srv);
    await p.join({ p_id: id });
    await p.event('subscribe', { p_subject: '/cl/p' });
    await p.event('leave');
    expect(await publish(c, { p_subject: '/cl/p', n: 'while-away' })).to.equal(200);
    const back = new TestClient(b.srv);
    await back.join({ p_id: id });
    expect(back.id).to.equal(id);
    await back.event('listen', { p_mode: 'pull' });
    expect((await back.refresh()).map((e) => e.n)).to.deep.equal(['while-away']);
  });

  it('keeps each publisher\'s order under concurrent publishers on three nodes, losing nothing', async () => {
    nodes = await startNodes(3);
    const receiver = await new TestClient(nodes[0].srv).joinPull('/cl/order');
    const per = 15;
    await Promise.all(
      nodes.map(async (node, i) => {
        for (let n = 1; n <= per; n++) expect(await publish(node, { p_subject: '/cl/order', from: String(i), n: String(n) })).to.equal(200);
      }),
    );
    const got: Ev[] = [];
    for (let i = 0; i < 10 && got.length < 3 * per; i++) got.push(...(await via(nodes[(i % 2) + 1], receiver.id).refresh()));
    expect(got).to.have.length(3 * per);
    for (const from of ['0', '1', '2']) {
      expect(got.filter((e) => e.from === from).map((e) => Number(e.n))).to.deep.equal(Array.from({ length: per }, (_, k) => k + 1));
    }
  });

  it('ages a session with a short lease once across nodes, not twice as fast', async () => {
    nodes = await startNodes(2, storeUrl(), { 'session.lease.millis': 1200, 'session.aging.interval.millis': 100 });
    const c = new TestClient(nodes[0].srv);
    await c.join();
    await sleep(700);
    expect((await r.exists(`p:ss:${c.id}`)), 'alive before its lease ran out').to.equal(1);
    const t0 = Date.now();
    for (let i = 0; i < 40 && (await r.exists(`p:ss:${c.id}`)) === 1; i++) await sleep(50);
    expect(await r.exists(`p:ss:${c.id}`), 'deleted after its lease').to.equal(0);
    expect(Date.now() - t0 + 700).to.be.within(1100, 1900);
    expect((await via(nodes[1], c.id).send({ p_event: 'hb', p_id: c.id })).reply.status).to.equal(400);
  });

  describe('Redis restarted mid-test', () => {
    let child: RedisChild;

    beforeEach(async () => {
      child = await RedisChild.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    });

    afterEach(async () => {
      await Promise.all(nodes.map((n) => n.server.close(500)));
      nodes = [];
      publishers.clear();
      await child.remove();
    });

    it('answers 503 while Redis is down and loses no accepted event', async () => {
      nodes = await startNodes(2, child.url);
      const [a, b] = nodes;
      const receiver = await new TestClient(a.srv).joinPull('/cl/restart');
      const accepted: string[] = [];
      const send = async (n: string) => {
        const status = await publish(b, { p_subject: '/cl/restart', n });
        if (status === 200) accepted.push(n);
        return status;
      };
      for (const n of ['1', '2', '3']) expect(await send(n)).to.equal(200);
      await child.stop();
      expect(await send('down')).to.equal(503);
      // A refresh is held and answered, so legacy pages keep polling through the outage.
      const held = await via(a, receiver.id).send({ p_event: 'refresh', p_id: receiver.id });
      expect(held.reply.status).to.equal(200);
      expect(held.events.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'hb', 'refresh']);
      await child.restart();
      const deadline = Date.now() + 10_000;
      while ((await send(`after-${accepted.length}`)) !== 200 && Date.now() < deadline) await sleep(100);
      for (const n of ['4', '5']) expect(await send(n)).to.equal(200);
      const got: string[] = [];
      for (let i = 0; i < 5 && got.length < accepted.length; i++) got.push(...(await via(b, receiver.id).refresh()).map((e) => e.n));
      expect(got).to.deep.equal(accepted);
    });
  });
});
