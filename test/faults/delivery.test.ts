import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import Redis from 'ioredis';
import { MemoryStore } from '../../src/store/memory';
import { RedisStore } from '../../src/store/redis';
import { http, parseXmlEvents, qs, sleep, TestClient, type Ev } from '../support/client';
import { startServer, type Running } from '../support/server';
import { redisArgs, rssBytes, startNode, type Node } from './nodes';

const MB = 1024 * 1024;

/** What one raw pull refresh brought: its events when the whole answer came, else null. */
interface Refreshed {
  status: number;
  events: Ev[] | null;
}

/**
 * One refresh as a raw HTTP request (a connection of its own). Its events count only when the
 * answer came whole: status 200, every byte of its Content-Length, ending with the `refresh`
 * event. A connection that fails or breaks off midway gives `events: null`.
 */
function rawRefresh(srv: string, id: string, timeoutMs = 5000): Promise<Refreshed> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Refreshed) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const req = request(`${srv}?${qs({ p_event: 'refresh', p_id: id })}`, { agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const events = parseXmlEvents(body.toString('utf8'));
        const whole = status === 200 && res.complete && body.length === Number(res.headers['content-length'])
          && events.length > 0 && events[events.length - 1].p_event === 'refresh';
        finish({ status, events: whole ? events : null });
      });
      res.on('error', () => finish({ status, events: null }));
      res.on('close', () => finish({ status, events: null }));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => finish({ status: 0, events: null }));
    req.end();
  });
}

/** One value of a Prometheus text exposition (first sample of `name`, without labels), or NaN. */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function metrics(base: string): Promise<string> {
  return (await http(`${base}/metrics`)).text;
}

describe('faults: delivery', function () {
  this.timeout(60_000);
  const nodes: Node[] = [];
  const servers: Running[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const n of nodes.splice(0)) n.proc.kill('SIGKILL');
    for (const s of servers.splice(0)) await s.server.close(500);
  });

  it('pull mode: nodes killed with SIGKILL under load lose no acknowledged event', async () => {
    const run = Date.now();
    const subject = `/faults/pull-kill/${run}`;
    const [a, b, c] = await Promise.all([startNode(redisArgs()), startNode(redisArgs()), startNode(redisArgs())]);
    nodes.push(a, b, c);
    const dead = new Set<Node>();
    /** Where subscribers go when they can: node A, then each process replacing it. B is where they flee to. */
    let home = a;

    interface Sub {
      id: string;
      node: Node;
      /** How often each number came. */
      got: Map<string, number>;
      /** Refreshes that failed or broke off (the kills), and the statuses of refused ones. */
      broken: number;
      refused: number[];
      /** Events counted per node. */
      via: Map<Node, number>;
    }
    const subs: Sub[] = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const cl = new TestClient(a.srv);
      cl.id = `pull-kill-${run}-${i}`;
      const steps: Record<string, string>[] = [{ p_event: 'join', p_format: 'xml' }, { p_event: 'listen', p_mode: 'pull', p_subject: subject }];
      for (const fields of steps) {
        const { reply, events } = await cl.send({ ...fields, p_id: cl.id });
        expect(events[0]?.p_event, `${fields.p_event}: ${reply.status} ${reply.text}`).to.equal(`${fields.p_event}-ack`);
      }
      return { id: cl.id, node: a, got: new Map<string, number>(), broken: 0, refused: [], via: new Map<Node, number>() };
    }));

    /** Set when the test ends, however: every loop below stops. */
    let stop = false;
    // The publisher, on node C (never killed): numbered events at about 100/s, until 100 more
    // after the last kill (at most MAX: a machine too loaded for the kills fails the test).
    const MAX = 1500;
    const acked: string[] = [];
    let published = 0;
    let lastKillAt = Infinity;
    const pub = new TestClient(c.srv);
    await pub.join();
    const publishing = (async () => {
      const t0 = Date.now();
      for (let n = 1; n <= MAX && n <= lastKillAt + 100 && !stop; n++) {
        try {
          const [ack] = await pub.event('publish', { p_subject: subject, n: String(n) });
          if (ack?.p_event === 'publish-ack') acked.push(String(n));
        } catch {
          // Not acknowledged: no promise made, nothing to check.
        }
        published = n;
        const ahead = t0 + n * 10 - Date.now();
        if (ahead > 0) await sleep(ahead);
      }
    })();

    /**
     * A kill armed for the moment the first subscriber has event `n` from `node`: the node is
     * then in the middle of answering the others with it.
     */
    let trigger: { n: string; node: Node; fire: () => void } | undefined;
    const killWhenDelivering = (node: Node, n: number) => new Promise<void>((resolve) => {
      trigger = {
        n: String(n),
        node,
        fire: () => {
          trigger = undefined;
          dead.add(node);
          node.proc.kill('SIGKILL');
          resolve();
        },
      };
    });

    let drainUntil = Infinity;
    const hasAll = (s: Sub) => acked.every((n) => s.got.has(n));
    const loop = async (s: Sub) => {
      for (let i = 0; i < 10_000 && !stop; i++) {
        if (Date.now() > drainUntil || (drainUntil < Infinity && hasAll(s))) return;
        if (s.node === b && home !== b && !dead.has(home)) s.node = home;
        const r = await rawRefresh(s.node.srv, s.id);
        if (r.events) {
          for (const e of r.events) {
            if (e.p_event !== 'data') continue;
            s.got.set(e.n, (s.got.get(e.n) ?? 0) + 1);
            s.via.set(s.node, (s.via.get(s.node) ?? 0) + 1);
          }
          if (trigger && trigger.node === s.node && r.events.some((e) => e.n === trigger!.n)) trigger.fire();
          continue;
        }
        if (r.status !== 0) s.refused.push(r.status);
        s.broken++;
        if (s.node === b) {
          await sleep(50);
          continue;
        }
        // Its node is gone: the same session goes on at node B, without a new join.
        s.node = b;
        try {
          await new TestClient(b.srv).send({ p_event: 'listen', p_id: s.id, p_mode: 'pull' });
        } catch {
          // The next refresh tells.
        }
      }
    };
    const looping = Promise.all(subs.map(loop));

    const waitFor = async (what: string, cond: () => boolean, ms: number) => {
      for (const until = Date.now() + ms; !cond(); await sleep(20)) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      }
    };
    /** Node A, then each process that replaced it. */
    const homes = [a];
    const KILLS = 4;
    try {
      await waitFor('100 publishes', () => published >= 100, 10_000);
      for (let k = 1; k <= KILLS; k++) {
        await waitFor('every subscriber getting events from node A', () => subs.every((s) => (s.via.get(home) ?? 0) > 0), 15_000);
        // Node A is killed as it hands an event to its subscribers: they go on at node B. It
        // comes back as a new process, and they return to it for the next round.
        await Promise.race([killWhenDelivering(home, published + 1), sleep(5000)]);
        trigger?.fire();
        if (k === KILLS) break;
        home = await startNode(redisArgs());
        nodes.push(home);
        homes.push(home);
        await waitFor('subscribers on the restarted node', () => subs.every((s) => s.node === home), 15_000);
      }
      expect(published, 'publishes made before the last kill').to.be.below(MAX);
      lastKillAt = published;
      await publishing;
      drainUntil = Date.now() + 10_000;
      await looping;
    } finally {
      stop = true;
      await Promise.all([publishing, looping]);
    }

    for (const h of homes) expect(await h.exited, 'killed').to.equal(null);
    expect(acked.length, 'node C acknowledged the publishes').to.be.greaterThan(published * 0.95);
    const lost = subs.map((s) => `${s.id}: ${acked.filter((n) => !s.got.has(n)).join(' ')}`).filter((l) => !l.endsWith(': '));
    expect(lost, 'acknowledged events never received').to.deep.equal([]);
    let duplicates = 0;
    const broken = subs.reduce((t, s) => t + s.broken, 0);
    for (const s of subs) {
      expect(s.refused, `refused refreshes of ${s.id}`).to.deep.equal([]);
      for (const k of s.got.values()) duplicates += k - 1;
      for (const [i, h] of [...homes, b].entries()) expect(s.via.get(h) ?? 0, `events ${s.id} got from node ${i}`).to.be.greaterThan(0);
    }
    expect(broken, 'refreshes broken off by the kills').to.be.greaterThan(0);
    console.log(`      ${acked.length} events to ${subs.length} pull subscribers through ${KILLS} SIGKILLs: 0 lost, ${duplicates} duplicates, ${broken} refreshes broken off`);
  });

  it('publishes a node answered before their fan-out are fanned out by another node after its SIGKILL, in order', async () => {
    const run = Date.now();
    const subject = `/faults/outbox/${run}`;
    // Answered once kept; a dead node's publishes adopted 1.5 s after its last sign of life.
    const early = [...redisArgs(), '--set', 'publish.answer.millis=0', '--set', 'publish.adopt.millis=1500'];
    const [a, b] = await Promise.all([startNode(early), startNode(early)]);
    nodes.push(a, b);
    // Many receivers, so that node A is still fanning out when it dies: persistent sessions
    // written straight into Redis (the queues are what is checked).
    const store = await RedisStore.connect({ url: process.env.PUSHLET_TEST_REDIS_URL, socketTimeoutMs: 2000, subjectMatch: 'exact' });
    const redis = new Redis(process.env.PUSHLET_TEST_REDIS_URL!);
    try {
      const ids = Array.from({ length: 2000 }, (_, i) => `outbox-${run}-${i}`);
      await Promise.all(ids.map(async (id) => {
        await store.openSession({ id, format: 'xml', temporary: false, createDate: run, userAgent: 'test', address: '127.0.0.1' });
        await store.subscribe(id, subject);
      }));

      const pub = new TestClient(a.srv);
      await pub.join();
      const acked: number[] = [];
      for (let n = 1; n <= 40; n++) {
        const [ack] = await pub.event('publish', { p_subject: subject, n: String(n) });
        if (ack?.p_event === 'publish-ack') acked.push(n);
      }
      a.proc.kill('SIGKILL');
      expect(await a.exited, 'killed').to.equal(null);
      expect(acked, 'every publish answered').to.have.length(40);

      // What A left kept and not fanned out; without any, this test would prove nothing.
      const outboxes = await redis.zrange('pushlet:outboxes', 0, -1);
      const left = (await Promise.all(outboxes.map((node) => redis.llen(`pushlet:outbox:${node}`)))).reduce((x, y) => x + y, 0);
      expect(left, 'publishes node A had answered and not fanned out when killed').to.be.greaterThan(0);

      /** Each receiver's events in the order queued (oldest first), numbers only. */
      const queued = async () => Promise.all(ids.map(async (id) => (await redis.lrange(`p:eq:${id}`, 0, -1)).reverse().map((j) => Number(JSON.parse(j).n))));
      const t0 = Date.now();
      let got = await queued();
      while (got.some((q) => acked.some((n) => !q.includes(n))) && Date.now() - t0 < 20_000) {
        await sleep(200);
        got = await queued();
      }
      const missing = got.map((q, i) => [ids[i], acked.filter((n) => !q.includes(n))] as const).filter(([, m]) => m.length > 0);
      expect(missing.slice(0, 3), `receivers missing answered publishes (of ${ids.length})`).to.deep.equal([]);
      // At least once, in the publisher's order: each event first comes after those before it.
      for (const q of got) {
        const first = [...new Set(q)];
        expect(first, 'first arrivals in publish order').to.deep.equal([...first].sort((x, y) => x - y));
      }
      const m = await metrics(b.base);
      expect(metric(m, 'pushlet_publishes_adopted_total'), 'node B counts what it took over').to.be.at.least(left);
      expect(metric(m, 'pushlet_publishes_behind'), 'and has fanned it all out').to.equal(0);
      const duplicates = got.reduce((t, q) => t + q.length - new Set(q).size, 0);
      console.log(`      ${left} of 40 answered publishes left in the killed node's outbox; node B fanned them out ${Date.now() - t0} ms after the kill; ${duplicates} duplicates in ${ids.length * 40} deliveries`);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });

  it('/metrics tells whether a node listens to keyspace notifications for Java nodes (redis.java.nodes)', async () => {
    const [on, off] = await Promise.all([
      startNode([...redisArgs(), '--set', 'redis.java.nodes=on']),
      startNode([...redisArgs(), '--set', 'redis.java.nodes=off']),
    ]);
    nodes.push(on, off);
    expect(metric(await metrics(on.base), 'pushlet_redis_keyspace_listening')).to.equal(1);
    expect(metric(await metrics(off.base), 'pushlet_redis_keyspace_listening')).to.equal(0);
  });

  it('a stream client that never reads is stopped, and the process stays alive with flat memory', async () => {
    // A long queue: the slow readers are stopped for their stalled output, not a full queue,
    // and the fast one has slack on a loaded machine.
    const node = await startNode(['--set', 'queue.write.timeout.millis=2000', '--set', 'queue.size=4096'], { execArgv: ['--max-old-space-size=96'] });
    nodes.push(node);
    const pid = node.proc.pid!;
    const subject = `/faults/slow/${Date.now()}`;
    const { hostname, port, pathname } = new URL(node.srv);
    const listenQuery = qs({ p_event: 'join-listen', p_format: 'xml', p_mode: 'stream', p_subject: subject });

    // The fast reader: a stream client that reads everything, numbers in order.
    const fast: number[] = [];
    let fastEnded = false;
    const fastReq = request(`${node.srv}?${listenQuery}`, { agent: false }, (res) => {
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (s: string) => {
        pending += s;
        const cut = pending.lastIndexOf('/>');
        if (cut < 0) return;
        for (const e of parseXmlEvents(pending.slice(0, cut + 2))) if (e.p_event === 'data') fast.push(Number(e.n));
        pending = pending.slice(cut + 2);
      });
      res.on('close', () => (fastEnded = true));
    });
    fastReq.on('error', () => (fastEnded = true));
    fastReq.end();

    // The slow ones: ask for a stream and never read a byte of it. Four of them, so that output
    // kept for them without bound would show in the RSS.
    const SLOW = 4;
    for (let i = 0; i < SLOW; i++) {
      const slow = connect({ host: hostname, port: Number(port) });
      sockets.push(slow);
      slow.pause();
      slow.on('error', () => {});
      slow.write(`GET ${pathname}?${listenQuery} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    }

    const sessions = async () => metric(await metrics(node.base), 'pushlet_sessions');
    for (let i = 0; (await sessions()) < 1 + SLOW; i++) {
      if (i > 100) throw new Error('the stream sessions did not start');
      await sleep(20);
    }

    // About 1000 publishes a second of 4 KB each on one keep-alive connection, for 8 s and at
    // least 2 s past the slow readers' stop (30 s at most: not stopped by then fails the test).
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const pub = new TestClient(node.srv);
    await pub.join();
    const value = 'v'.repeat(4096);
    const publish = (n: number) => new Promise<string>((resolve, reject) => {
      const req = request(`${node.srv}?${qs({ p_event: 'publish', p_id: pub.id, p_subject: subject, n: String(n), v: value })}`, { agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    let publishFailed = '';
    let acked = 0;
    let rssAt1s = 0;
    let rssPeak = 0;
    const samples: number[] = [];
    const t0 = Date.now();
    let stoppedAt = Infinity;
    for (let n = 1; n <= 30_000; n++) {
      const elapsed = Date.now() - t0;
      if (elapsed >= 30_000 || (elapsed >= 8000 && Date.now() >= stoppedAt + 2000)) break;
      let reply: string;
      try {
        reply = await publish(n);
      } catch (err) {
        publishFailed = `publish ${n} failed: ${(err as Error).message}`;
        break;
      }
      expect(parseXmlEvents(reply)[0]?.p_event, `publish ${n}`).to.equal('publish-ack');
      acked = n;
      if (n % 100 === 0) {
        const rss = rssBytes(pid);
        rssPeak = Math.max(rssPeak, rss);
        if (rssAt1s === 0 && Date.now() - t0 >= 1000) rssAt1s = rss;
        if (Date.now() - t0 >= samples.length * 1000) samples.push(Math.round(rss / MB));
      }
      if (n % 500 === 0 && stoppedAt === Infinity && metric(await metrics(node.base), 'pushlet_receivers_stopped_total') >= SLOW) stoppedAt = Date.now();
      const ahead = t0 + n - Date.now();
      if (ahead > 0) await sleep(ahead);
    }
    agent.destroy();
    const seconds = (Date.now() - t0) / 1000;
    if (publishFailed) await Promise.race([node.exited, sleep(1000)]);
    const exit = { code: node.proc.exitCode, signal: node.proc.signalCode };
    expect(exit, `the node process is alive (${publishFailed || 'publishes all answered'})`).to.deep.equal({ code: null, signal: null });
    expect(publishFailed).to.equal('');

    for (let i = 0; fast.length < acked && !fastEnded && i < 250; i++) await sleep(20);
    const rssEnd = rssBytes(pid);
    const m = await metrics(node.base);
    fastReq.destroy();

    console.log(`      ${acked} publishes in ${seconds.toFixed(1)} s; RSS ${(rssAt1s / MB).toFixed(0)} MB after 1 s, peak ${(Math.max(rssPeak, rssEnd) / MB).toFixed(0)} MB, ${(rssEnd / MB).toFixed(0)} MB at the end (each second: ${samples.join(' ')}); slow readers stopped after ${((stoppedAt - t0) / 1000).toFixed(1)} s, dropped ${metric(m, 'pushlet_events_dropped_total')}`);
    expect((await http(`${node.base}/health`)).status).to.equal(200);
    expect(rssAt1s).to.be.greaterThan(0);
    // Measured: 20-40 MB as the heap fills up to its plateau; output kept for the slow readers
    // would add 4 MB a second for each.
    expect(rssEnd - rssAt1s, 'RSS growth from 1 s to the end').to.be.below(60 * MB);
    expect(fast.length, 'events the fast reader got').to.equal(acked);
    expect(fast.every((n, i) => n === i + 1), 'the fast reader got 1..N in order').to.equal(true);
    expect(metric(m, 'pushlet_receivers_stopped_total'), 'receivers stopped: the slow ones').to.equal(SLOW);
    expect(metric(m, 'pushlet_events_dropped_total'), 'pushlet_events_dropped_total').to.be.greaterThan(0);
    // The slow sessions (temporary) are gone; the fast one and the publisher remain.
    expect(metric(m, 'pushlet_sessions'), 'sessions left').to.equal(2);
  });

  /**
   * An embedded-store server and a session whose queue holds COUNT events of 60 KB each
   * (within limit.field.value.length), all going out in one answer of about 12 MB.
   */
  const COUNT = 200;
  const VALUE = 'd'.repeat(60 * 1024);
  async function bigQueue(subject: string, join: Record<string, string> = {}): Promise<{ running: Running; sub: TestClient }> {
    const running = await startServer({ 'limit.output.bytes': 64 * MB }, { store: new MemoryStore() });
    servers.push(running);
    const sub = new TestClient(running.srv);
    await sub.join(join);
    expect((await sub.event('subscribe', { p_subject: subject }))[0].p_event).to.equal('subscribe-ack');
    for (let n = 1; n <= COUNT; n++) {
      expect(await running.server.publish(subject, { n: String(n), v: VALUE })).to.equal(1);
    }
    return { running, sub };
  }

  /** Sends a request on a raw connection, reads the first 8 KB of the answer, then drops it. */
  function readStartThenDrop(srv: string, fields: Record<string, string>): Promise<string> {
    const { hostname, port, pathname } = new URL(srv);
    return new Promise<string>((resolve, reject) => {
      const sock = connect({ host: hostname, port: Number(port) });
      sockets.push(sock);
      let got = '';
      sock.setEncoding('latin1');
      sock.on('data', (s: string) => {
        got += s;
        if (got.length >= 8192) {
          sock.destroy();
          resolve(got);
        }
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(got));
      sock.write(`GET ${pathname}?${qs(fields)} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    });
  }

  /** Pull refreshes until every number came (bounded); the numbers that never came. */
  async function missingAfterRefreshes(sub: TestClient): Promise<string[]> {
    const got = new Set<string>();
    for (let i = 0; i < 10 && got.size < COUNT; i++) {
      for (const e of await sub.refresh()) got.add(e.n);
    }
    return Array.from({ length: COUNT }, (_, i) => String(i + 1)).filter((n) => !got.has(n));
  }

  it('embedded store: a client that drops mid-answer loses nothing', async () => {
    const { running, sub } = await bigQueue(`/faults/drop/${Date.now()}`);
    await sub.event('listen', { p_mode: 'pull' });

    // A refresh whose answer (about 12 MB) is read for its first 8 KB, then dropped.
    const head = await readStartThenDrop(running.srv, { p_event: 'refresh', p_id: sub.id });
    expect(head).to.match(/^HTTP\/1\.1 200 /);
    const length = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(head)?.[1]);
    expect(length, 'the dropped answer carried all the events').to.be.greaterThan(COUNT * VALUE.length);
    expect(head.length, 'only its start was read').to.be.below(length / 100);
    await sleep(100);
    expect(metric(await metrics(running.base), 'pushlet_events_delivered_total'), 'events acknowledged by the dropped answer').to.equal(0);

    expect(await missingAfterRefreshes(sub), 'events of the dropped answer never received').to.deep.equal([]);
  });

  it('embedded store: a stream client that drops mid-answer loses nothing', async () => {
    const run = Date.now();
    // A persistent session: whatever becomes of a dropped stream's session, its events stay.
    const { running, sub } = await bigQueue(`/faults/drop-stream/${run}`, { p_id: `drop-stream-${run}` });

    // A stream listen of the same session, read for its first 8 KB, then dropped.
    const head = await readStartThenDrop(running.srv, { p_event: 'listen', p_id: sub.id, p_mode: 'stream' });
    expect(head).to.match(/^HTTP\/1\.1 200 /);
    expect(head, 'the stream started sending the events').to.include('p_event="data"');
    await sleep(100);
    expect(metric(await metrics(running.base), 'pushlet_events_delivered_total'), 'events acknowledged by the dropped stream').to.equal(0);

    // The session goes on in pull mode: every event is still there.
    expect((await sub.event('listen', { p_mode: 'pull' }))[0].p_event).to.equal('listen-ack');
    expect(await missingAfterRefreshes(sub), 'events of the dropped stream never received').to.deep.equal([]);
  });

  it('held pulls and streams whose connections are reset leave nothing held, and their sessions lose nothing', async () => {
    const run = Date.now();
    const subject = `/faults/reset/${run}`;
    const running = await startServer({ 'queue.read.timeout.millis': 60_000 });
    servers.push(running);
    const { hostname, port, pathname } = new URL(running.srv);
    const pulls = await Promise.all(Array.from({ length: 100 }, () => new TestClient(running.srv).joinPull(subject)));
    const streams = await Promise.all(Array.from({ length: 20 }, (_, i) => new TestClient(running.srv).joinPull(subject, { p_id: `reset-${run}-${i}` })));
    /** A request on a connection of its own, resolved once its answer has started (a stream's) or once it is written (a held pull's). */
    const open = (fields: Record<string, string>, started: boolean) => new Promise<Socket>((resolve, reject) => {
      const sock = connect({ host: hostname, port: Number(port) });
      sockets.push(sock);
      sock.on('error', () => undefined);
      sock.once('data', () => started && resolve(sock));
      sock.on('connect', () => {
        sock.write(`GET ${pathname}?${qs(fields)} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
        if (!started) resolve(sock);
      });
      setTimeout(() => reject(new Error('no answer began')), 5000);
    });
    const held = [
      ...(await Promise.all(pulls.map((c) => open({ p_event: 'refresh', p_id: c.id }, false)))),
      ...(await Promise.all(streams.map((c) => open({ p_event: 'listen', p_id: c.id, p_mode: 'stream', p_format: 'xml' }, true)))),
    ];
    const heldNow = async () => metric(await metrics(running.base), 'pushlet_held_requests');
    for (let i = 0; i < 50 && (await heldNow()) < 120; i++) await sleep(50);
    expect(await heldNow(), 'every request held').to.equal(120);

    // Gone at once, with a TCP reset: no FIN, nothing more read or written.
    for (const sock of held) sock.resetAndDestroy();
    for (let i = 0; i < 50 && (await heldNow()) > 0; i++) await sleep(50);
    expect(await heldNow(), 'nothing left held').to.equal(0);

    // The server goes on, and the sessions behind the reset requests have what was published since.
    const publisher = await new TestClient(running.srv).joinPull(`/faults/reset-other/${run}`);
    expect((await publisher.event('publish', { p_subject: subject, n: 'after' }))[0].p_event).to.equal('publish-ack');
    for (const c of [pulls[0], pulls[99]]) expect((await c.refresh()).map((e) => e.n), `pull ${c.id}`).to.include('after');
    expect((await streams[19].event('listen', { p_mode: 'pull' }))[0].p_event).to.equal('listen-ack');
    expect((await streams[19].refresh()).map((e) => e.n), 'stream session').to.include('after');
  });
});
