import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
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
    /** Where subscribers go when they can: node A, then A restarted. B is where they flee to. */
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
      expect((await cl.join({ p_id: `pull-kill-${run}-${i}` })).p_event).to.equal('join-ack');
      const [ack] = await cl.event('listen', { p_mode: 'pull', p_subject: subject });
      expect(ack.p_event).to.equal('listen-ack');
      return { id: cl.id, node: a, got: new Map<string, number>(), broken: 0, refused: [], via: new Map<Node, number>() };
    }));

    /** Set when the test ends, however: every loop below stops. */
    let stop = false;
    // The publisher, on node C (never killed): numbered events at about 100/s.
    const TOTAL = 450;
    const acked: string[] = [];
    let published = 0;
    /** What to do once publish n was answered. */
    const onPublished = new Map<number, () => void>();
    /** Resolves just after publish n was answered: its event is on its way out of the node. */
    const publishedAt = (n: number) => new Promise<void>((resolve) => onPublished.set(n, resolve));
    const KILL_DELAY = Number(process.env.KILL_DELAY ?? 3);
    const pub = new TestClient(c.srv);
    await pub.join();
    const publishing = (async () => {
      const t0 = Date.now();
      for (let n = 1; n <= TOTAL && !stop; n++) {
        try {
          const [ack] = await pub.event('publish', { p_subject: subject, n: String(n) });
          if (ack?.p_event === 'publish-ack') acked.push(String(n));
        } catch {
          // Not acknowledged: no promise made, nothing to check.
        }
        published = n;
        onPublished.get(n)?.();
        const ahead = t0 + n * 10 - Date.now();
        if (ahead > 0) await sleep(ahead);
      }
    })();

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
    let a2: Node;
    try {
      // First kill a second in; A comes back as a new process and the subscribers return to it.
      // Just after a publish, when node A is answering the subscribers with its event.
      await publishedAt(100);
      await sleep(KILL_DELAY);
      dead.add(a);
      a.proc.kill('SIGKILL');
      a2 = await startNode(redisArgs());
      nodes.push(a2);
      home = a2;
      await waitFor('subscribers on the restarted node', () => subs.every((s) => s.node === a2) && published >= 220, 15_000);
      await sleep(300);
      // Second kill: the restarted A dies mid-load too.
      await Promise.race([publishedAt(published + 1), publishing]);
      await sleep(KILL_DELAY);
      dead.add(a2);
      a2.proc.kill('SIGKILL');
      await publishing;
      drainUntil = Date.now() + 15_000;
      await looping;
    } finally {
      stop = true;
      await Promise.all([publishing, looping]);
    }

    expect(await a.exited, 'A was killed').to.equal(null);
    expect(acked.length, 'node C acknowledged the publishes').to.be.greaterThan(TOTAL * 0.95);
    let duplicates = 0;
    const broken = subs.reduce((t, s) => t + s.broken, 0);
    for (const s of subs) {
      expect(s.refused, `refused refreshes of ${s.id}`).to.deep.equal([]);
      const lost = acked.filter((n) => !s.got.has(n));
      expect(lost, `acknowledged events ${s.id} never received`).to.deep.equal([]);
      for (const k of s.got.values()) duplicates += k - 1;
      expect(s.via.get(a) ?? 0, `${s.id} got events from A`).to.be.greaterThan(0);
      expect(s.via.get(a2) ?? 0, `${s.id} got events from A restarted`).to.be.greaterThan(0);
      expect(s.via.get(b) ?? 0, `${s.id} got events from B`).to.be.greaterThan(0);
    }
    expect(broken, 'refreshes broken off by the kills').to.be.greaterThan(0);
    console.log(`      ${acked.length} events to ${subs.length} pull subscribers through 2 SIGKILLs: 0 lost, ${duplicates} duplicates, ${broken} refreshes broken off`);
  });

  it('a stream client that never reads is stopped, and the process stays alive with flat memory', async () => {
    const node = await startNode(['--set', 'queue.write.timeout.millis=2000'], { execArgv: ['--max-old-space-size=96'] });
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

    // The slow one: asks for a stream and never reads a byte of it.
    const slow = connect({ host: hostname, port: Number(port) });
    sockets.push(slow);
    slow.pause();
    slow.on('error', () => {});
    slow.write(`GET ${pathname}?${listenQuery} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);

    const sessions = async () => metric(await metrics(node.base), 'pushlet_sessions');
    for (let i = 0; (await sessions()) < 2; i++) {
      if (i > 100) throw new Error('the two stream sessions did not start');
      await sleep(20);
    }

    // About 1000 publishes a second of 4 KB each, for 8 s, on one keep-alive connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const pub = new TestClient(node.srv);
    await pub.join();
    const value = 'v'.repeat(4096);
    let acked = 0;
    let rssAt1s = 0;
    let rssPeak = 0;
    const t0 = Date.now();
    for (let n = 1; n <= 20_000 && Date.now() - t0 < 8000; n++) {
      const reply = await new Promise<string>((resolve, reject) => {
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
      expect(parseXmlEvents(reply)[0]?.p_event, `publish ${n}`).to.equal('publish-ack');
      acked = n;
      if (n % 100 === 0) {
        const rss = rssBytes(pid);
        rssPeak = Math.max(rssPeak, rss);
        if (rssAt1s === 0 && Date.now() - t0 >= 1000) rssAt1s = rss;
      }
      const ahead = t0 + n - Date.now();
      if (ahead > 0) await sleep(ahead);
    }
    agent.destroy();
    const seconds = (Date.now() - t0) / 1000;

    for (let i = 0; fast.length < acked && !fastEnded && i < 250; i++) await sleep(20);
    const rssEnd = rssBytes(pid);
    const m = await metrics(node.base);
    fastReq.destroy();

    console.log(`      ${acked} publishes in ${seconds.toFixed(1)} s; RSS ${(rssAt1s / MB).toFixed(0)} MB after 1 s, peak ${(Math.max(rssPeak, rssEnd) / MB).toFixed(0)} MB, ${(rssEnd / MB).toFixed(0)} MB at the end; dropped ${metric(m, 'pushlet_events_dropped_total')}`);
    expect(node.proc.exitCode, 'the node process is alive').to.equal(null);
    expect(node.proc.signalCode).to.equal(null);
    expect((await http(`${node.base}/health`)).status).to.equal(200);
    expect(acked, 'publishes made').to.be.greaterThan(2000);
    expect(rssAt1s).to.be.greaterThan(0);
    expect(rssEnd - rssAt1s, 'RSS growth from 1 s to the end').to.be.below(60 * MB);
    expect(fast.length, 'events the fast reader got').to.equal(acked);
    expect(fast.every((n, i) => n === i + 1), 'the fast reader got 1..N in order').to.equal(true);
    expect(metric(m, 'pushlet_events_dropped_total'), 'pushlet_events_dropped_total').to.be.greaterThan(0);
    // The slow session (temporary) is gone; the fast one and the publisher remain.
    expect(metric(m, 'pushlet_sessions'), 'sessions left').to.equal(2);
  });

  it('embedded store: a client that drops mid-answer loses nothing', async () => {
    const running = await startServer({ 'limit.output.bytes': 64 * MB });
    servers.push(running);
    const subject = `/faults/drop/${Date.now()}`;
    const sub = await new TestClient(running.srv).joinPull(subject);
    const COUNT = 200;
    const value = 'd'.repeat(60 * 1024);
    for (let n = 1; n <= COUNT; n++) {
      expect(await running.server.publish(subject, { n: String(n), v: value })).to.equal(1);
    }

    // A refresh whose answer (about 12 MB) is read for its first few KB, then dropped.
    const { hostname, port, pathname } = new URL(running.srv);
    const head = await new Promise<string>((resolve, reject) => {
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
      sock.write(`GET ${pathname}?${qs({ p_event: 'refresh', p_id: sub.id })} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    });
    expect(head).to.match(/^HTTP\/1\.1 200 /);
    const length = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(head)?.[1]);
    expect(length, 'the dropped answer carried the events').to.be.greaterThan(COUNT * value.length);
    expect(head.length, 'only the start of it was read').to.be.below(length / 4);
    await sleep(100);
    expect(metric(await metrics(running.base), 'pushlet_events_delivered_total'), 'events acknowledged by the dropped answer').to.equal(0);

    const got = new Set<string>();
    for (let i = 0; i < 10 && got.size < COUNT; i++) {
      for (const e of await sub.refresh()) got.add(e.n);
    }
    const missing = Array.from({ length: COUNT }, (_, i) => String(i + 1)).filter((n) => !got.has(n));
    expect(missing, 'events of the dropped answer never received').to.deep.equal([]);
  });
});
