import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { parseXmlEvents, sleep, stream, TestClient } from '../support/client';
import { eventually } from '../support/log';
import { freePort } from '../support/net';
import { alive, childrenOf, run, startUntil, type Running } from '../package/processes';
import { CLI, redisArgs } from './nodes';

interface Primary extends Running {
  pid: number;
  srv: string;
}

/** A log line of the primary or a worker (they share its stdout). */
interface Line {
  pid: number;
  msg: string;
  [field: string]: unknown;
}

function lines(p: Running): Line[] {
  return p.out().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
}

/** The process that logged `msg` for session `id`. */
function loggedBy(p: Running, msg: string, id: string): Promise<number> {
  return eventually(async () => {
    const line = lines(p).find((l) => l.msg === msg && l.session === id);
    if (!line) throw new Error(`no '${msg}' for ${id}`);
    return line.pid;
  }, 5000, 20);
}

describe('faults: --workers', function () {
  this.timeout(40_000);
  const started: number[] = [];
  afterEach(() => {
    // Whatever failed, nothing a test started outlives it.
    for (const pid of started.splice(0).filter(alive)) process.kill(pid, 'SIGKILL');
  });

  async function startWorkers(extra: string[] = []): Promise<Primary> {
    const port = await freePort();
    const args = [CLI, '--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--set', 'sources.activate=false', ...redisArgs(), ...extra];
    const p = await startUntil(process.execPath, args, /listening on (http:\/\/\S+\/pushlet\.srv)[^"]*; 2 workers"/);
    started.push(p.proc.pid!, ...childrenOf(p.proc.pid!));
    return { ...p, pid: p.proc.pid!, srv: p.match[1] };
  }

  it('serves through two worker processes sharing one port, and a session joined on one is served by the other', async () => {
    const primary = await startWorkers();
    const workers = childrenOf(primary.pid);
    expect(workers).to.have.length(2);

    // Each request on its own connection: the primary hands connections to the workers in turn.
    const subject = `/workers/share/${Date.now()}`;
    const subs = Array.from({ length: 5 }, () => new TestClient(primary.srv));
    for (const c of subs) await c.join();
    const joinedOn = await Promise.all(subs.map((c) => loggedBy(primary, 'session joined', c.id)));
    expect([...new Set(joinedOn)].sort(), 'the workers joined them').to.deep.equal([...workers].sort());

    for (const c of subs) expect((await c.event('listen', { p_mode: 'pull', p_subject: subject }))[0].p_event).to.equal('listen-ack');
    const pub = new TestClient(primary.srv);
    await pub.join();
    expect((await pub.event('publish', { p_subject: subject, n: '1' }))[0].p_event).to.equal('publish-ack');
    // One publish, on one worker, reaches the sessions joined on either.
    for (const c of subs) expect((await c.refresh()).map((e) => e.n)).to.deep.equal(['1']);

    for (const c of subs) expect((await c.event('leave'))[0].p_event).to.equal('leave-ack');
    const leftOn = await Promise.all(subs.map((c) => loggedBy(primary, 'session left', c.id)));
    expect(leftOn.some((pid, i) => pid !== joinedOn[i]), `joined on ${joinedOn}, left on ${leftOn}`).to.equal(true);
  });

  it('a SIGKILLed worker is replaced; the other serves meanwhile and a subscriber\'s events keep coming', async () => {
    const primary = await startWorkers();
    const [victim, survivor] = childrenOf(primary.pid);
    const subject = `/workers/kill/${Date.now()}`;
    const sub = new TestClient(primary.srv);
    await sub.join({ p_id: `workers-kill-${Date.now()}` });
    await sub.event('listen', { p_mode: 'pull', p_subject: subject });
    const pub = new TestClient(primary.srv);
    await pub.join();
    const received: string[] = [];
    const publishAndRead = async (n: number) => {
      expect((await pub.event('publish', { p_subject: subject, n: String(n) }))[0].p_event).to.equal('publish-ack');
      received.push(...(await sub.refresh()).map((e) => e.n));
    };
    await publishAndRead(1);

    process.kill(victim, 'SIGKILL');
    await eventually(async () => expect(lines(primary).some((l) => l.msg.startsWith('worker exited (signal SIGKILL)') && l.worker === victim)).to.equal(true), 5000, 20);
    // Before the replacement is up, the survivor answers alone.
    for (let n = 2; n <= 4; n++) await publishAndRead(n);

    const replacement = await eventually(async () => {
      const now = childrenOf(primary.pid);
      expect(now).to.have.length(2).and.include(survivor);
      expect(now).to.not.include(victim);
      const pid = now.find((p) => p !== survivor)!;
      expect(lines(primary).some((l) => l.msg === 'worker listening' && l.worker === pid), `worker ${pid} listening`).to.equal(true);
      return pid;
    }, 10_000);
    started.push(replacement);
    for (let n = 5; n <= 8; n++) await publishAndRead(n);
    // At least once: an answer of the killed worker it had not acked yet comes again.
    expect([...new Set(received)]).to.deep.equal(['1', '2', '3', '4', '5', '6', '7', '8']);

    // The replacement takes its turn of the connections.
    const joinedOn: number[] = [];
    for (let i = 0; i < 4; i++) {
      const c = new TestClient(primary.srv);
      await c.join();
      joinedOn.push(await loggedBy(primary, 'session joined', c.id));
    }
    expect(joinedOn).to.include(replacement);
  });

  it('SIGTERM to the primary ends held requests with a refresh, stops every worker and exits 0', async () => {
    const primary = await startWorkers(['--set', 'queue.read.timeout.millis=20000']);
    const workers = childrenOf(primary.pid);
    const c = await new TestClient(primary.srv).joinPull('/workers/term');
    const held = stream(`${primary.srv}?p_event=refresh&p_id=${c.id}`, () => false, 10_000);
    await sleep(300);
    const t0 = Date.now();
    primary.proc.kill('SIGTERM');
    expect(parseXmlEvents((await held).text).map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'refresh']);
    expect(await primary.exited).to.equal(0);
    expect(Date.now() - t0).to.be.below(5000);
    expect(workers.filter(alive), 'workers still running').to.deep.equal([]);
  });

  it('session.bind=cookie without a secret: a cookie one worker set is taken by the other', async () => {
    const primary = await startWorkers(['--set', 'session.bind=cookie']);
    const c = new TestClient(primary.srv);
    const { reply } = await c.send({ p_event: 'join', p_format: 'xml' });
    c.id = parseXmlEvents(reply.text)[0].p_id;
    const cookie = String(reply.headers['set-cookie']).split(';')[0];
    // Turns alternate between the workers: both see the cookie.
    for (let i = 0; i < 4; i++) {
      const { reply: r, events } = await c.send({ p_event: 'subscribe', p_id: c.id, p_subject: '/workers/bind' }, { headers: { cookie } });
      expect(r.status, r.text).to.equal(200);
      expect(events[0].p_event).to.equal('subscribe-ack');
    }
  });

  it('refuses --workers 2 on the embedded store: one line, exit code 2', async () => {
    const r = await run(process.execPath, [CLI, '--workers', '2', '--port', '0', '--host', '127.0.0.1']);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/^pushlet-server: workers=2 needs the Redis store \(each worker would keep its own sessions in memory\): set --redis \(redis\.url\) or redis\.serverlist\n$/);
  });

  it('workers that cannot start stop the start with their reason, said once, and exit code 2', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = await run(process.execPath, [CLI, '--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--set', 'sources.activate=false', ...redisArgs()]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.equal(`pushlet-server: 127.0.0.1:${port} is in use: stop what holds it, or choose another --port\n`);
    } finally {
      busy.close();
    }
  });
});
