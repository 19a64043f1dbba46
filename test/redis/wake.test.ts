/**
 * How the Redis store wakes requests waiting for events (src/store/redis/wake.ts): our nodes
 * tell each other with one message per enqueue on `pushlet:wake`; pushes by Java nodes are seen
 * through keyspace notifications only while `javaNodes` says they may write (`on`, or `auto`
 * once a Java-written session hash was read). "A Java node" pushing is the real redis-cli.
 *
 * Every test runs on a private redis-server: they set CONFIG notify-keyspace-events and kill
 * pub/sub connections, which other suites on the shared test Redis must not see.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields, type Queued } from '../../src/protocol/event';
import type { RedisStore } from '../../src/store/redis';
import type { JavaNodes } from '../../src/store/redis/wake';
import type { NewSession } from '../../src/store/store';
import { RedisChild, connectStore, median, rawClient, sleep } from './support';
import { drain } from '../support/store-contract';
import { eventually, recorder } from '../support/log';
import { waitFor } from '../support/wait';

const run = promisify(execFile);
const REDIS_CLI = '/usr/bin/redis-cli';

/** The database of the private server these tests use (not 0, so the keyspace channel names it). */
const DB = 3;
/** How long a waiter waits: "at its timeout" and "promptly" are far apart on a busy machine. */
const WAIT_MS = 3000;
/** A wait that ended this long before its timeout was woken, not timed out. */
const PROMPT_MS = 500;
/** setTimeout may fire a little early by the wall clock. */
const AT_TIMEOUT_MS = WAIT_MS - 100;

const INFO_LINE = /^a Java node writes to this Redis/;

function rec(id: string): NewSession {
  return { id, format: 'json', temporary: true, createDate: Date.now(), userAgent: 'ua', address: '127.0.0.1' };
}

const ev = (n: number): Queued => ({ event: fields({ p_event: 'data', p_subject: '/w', n: String(n) }), sid: '/w' });

/** A Java node's queued data event, as in the reference dumps. */
const javaEvent = (n: number) =>
  JSON.stringify({ p_from: 'java-pub', p_time: '1795782501', p_event: 'data', p_subject: '/w', p_sid: '/w', p_id: 'java-pub', n: String(n) });

/** A session hash as a Java node writes it at join: timeToLive, no ownTimeToLive of ours. */
async function javaJoin(r: Redis, id: string): Promise<void> {
  const now = Date.now();
  await r.hset(`p:ss:${id}`, 'timeToLive', '180000', 'temporary', 'true', 'createDate', String(now), 'format', 'xml', 'address', '127.0.0.1', 'userAgent', 'java');
  await r.zadd('p:zset:as', String(now), id);
}

/** When a promise settled (ms since the epoch) and with what. */
async function timed<T>(p: Promise<T>): Promise<{ value: T; at: number }> {
  const value = await p;
  return { value, at: Date.now() };
}

describe('Redis store: waking waiters (pushlet:wake, redis.java.nodes)', function () {
  this.timeout(30_000);
  let child: RedisChild;
  let url: string;
  let r: Redis;
  const stores: RedisStore[] = [];

  /** A store on the private server, closed after the test. */
  async function store(javaNodes: JavaNodes, logger = recorder()): Promise<RedisStore> {
    const s = await connectStore({ url, javaNodes, logger });
    stores.push(s);
    return s;
  }

  /** LPUSH by the real redis-cli, as a Java node would push: no message on our channel. */
  async function cliLpush(id: string, json: string): Promise<void> {
    const { stdout } = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(child.port), '-n', String(DB), 'LPUSH', `p:eq:${id}`, json]);
    expect(Number(stdout.trim()), `redis-cli LPUSH answered ${stdout}`).to.be.at.least(1);
  }

  const keyspaceFlags = async () => ((await r.config('GET', 'notify-keyspace-events')) as string[])[1];
  const patterns = async () => Number(await r.pubsub('NUMPAT'));

  before(async () => {
    child = await RedisChild.start();
    url = `${child.url}/${DB}`;
    r = rawClient(url);
  });

  beforeEach(async () => {
    await r.flushall();
    // As a fresh Redis has it: no keyspace notifications.
    await r.config('SET', 'notify-keyspace-events', '');
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  after(async () => {
    r?.disconnect();
    await child?.remove();
  });

  describe("javaNodes 'off'", () => {
    it('an enqueue by another node wakes a waiter within tens of ms; CONFIG and keyspace patterns are left alone', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('o1'));
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        const waiting = timed(waitFor(a, 'o1', WAIT_MS));
        await sleep(30);
        const t0 = Date.now();
        expect(await b.enqueue([{ id: 'o1', q: ev(i) }])).to.deep.equal(['ok']);
        const { at } = await waiting;
        delays.push(at - t0);
        expect((await drain(a, 'o1')).map((q) => q.event.n)).to.deep.equal([String(i)]);
      }
      // Without the message the waiter would sleep its whole WAIT_MS.
      expect(median(delays), `wake delays ${delays}`).to.be.below(50);
      expect(Math.max(...delays), `wake delays ${delays}`).to.be.below(PROMPT_MS);
      expect(await keyspaceFlags()).to.equal('');
      expect(await patterns(), 'keyspace patterns subscribed').to.equal(0);
      // Both stores listen on our channel.
      expect(await r.pubsub('NUMSUB', 'pushlet:wake')).to.deep.equal(['pushlet:wake', 2]);
    });

    it('one message per enqueue, naming the node and the sessions queued for (not those gone or full)', async () => {
      const a = await store('off');
      const small = await connectStore({ url, javaNodes: 'off', queueSize: 2 });
      stores.push(small);
      for (const id of ['m1', 'm2', 'm3', 'full']) await a.openSession(rec(id));
      await a.enqueue([{ id: 'full', q: ev(0) }, { id: 'full', q: ev(0) }]);
      const listener = rawClient(url);
      const messages: string[] = [];
      try {
        listener.on('message', (_channel: string, m: string) => messages.push(m));
        await listener.subscribe('pushlet:wake');
        const waiters = ['m1', 'm2', 'm3'].map((id) => timed(waitFor(a, id, WAIT_MS)));
        await sleep(30);
        const t0 = Date.now();
        const results = await small.enqueue([
          { id: 'm1', q: ev(1) }, { id: 'm2', q: ev(1) }, { id: 'gone', q: ev(1) }, { id: 'm3', q: ev(1) },
          { id: 'm1', q: ev(2) }, { id: 'full', q: ev(1) },
        ]);
        expect(results).to.deep.equal(['ok', 'ok', 'gone', 'ok', 'ok', 'full']);
        const woken = await Promise.all(waiters);
        for (const w of woken) expect(w.at - t0, 'woken').to.be.below(PROMPT_MS);
        await eventually(async () => expect(messages).to.have.length(1), 2000, 10);
        await sleep(100);
        expect(messages, 'one message').to.have.length(1);
        const m = JSON.parse(messages[0]) as { from: string; ids: string[] };
        expect(m.from).to.match(/^[0-9a-f]{16}$/);
        expect(m.ids).to.have.members(['m1', 'm2', 'm3']).and.to.have.length(3);
        // An enqueue that queued nothing says nothing.
        expect(await small.enqueue([{ id: 'gone', q: ev(3) }, { id: 'full', q: ev(3) }])).to.deep.equal(['gone', 'full']);
        await sleep(100);
        expect(messages, 'still one message').to.have.length(1);
      } finally {
        listener.disconnect();
      }
    });

    it('a push by a Java node (redis-cli LPUSH) wakes nobody, even with notifications on in Redis, and is delivered at the timeout', async () => {
      // Someone else (a Java-aware node) turned notifications on: an 'off' store still ignores them.
      await r.config('SET', 'notify-keyspace-events', 'KA');
      const a = await store('off');
      await a.openSession(rec('o2'));
      const t0 = Date.now();
      const waiting = timed(waitFor(a, 'o2', WAIT_MS));
      await sleep(50);
      await cliLpush('o2', javaEvent(7));
      const { value, at } = await waiting;
      expect(value, 'timed out, not woken').to.equal(undefined);
      expect(at - t0, 'resolved at its timeout').to.be.at.least(AT_TIMEOUT_MS);
      // Nothing is lost: the channel's peek after the timeout finds it.
      const taken = await drain(a, 'o2');
      expect(taken.map((q) => [q.event.n, q.sid])).to.deep.equal([['7', '/w']]);
      expect(await r.exists('p:eq:o2')).to.equal(0);
      expect(await patterns()).to.equal(0);
    });
  });

  describe("javaNodes 'on'", () => {
    it('enables keyspace notifications at start, and a redis-cli LPUSH wakes a waiter within milliseconds', async () => {
      const log = recorder();
      const a = await store('on', log);
      const flags = await keyspaceFlags();
      expect(flags).to.include('K');
      expect(/A|(?=.*g)(?=.*l)/.test(flags), `flags ${flags}`).to.equal(true);
      expect(await patterns()).to.equal(2);
      await a.openSession(rec('n1'));
      const afterCli: number[] = [];
      for (let i = 0; i < 5; i++) {
        const waiting = timed(waitFor(a, 'n1', WAIT_MS));
        await sleep(30);
        const t0 = Date.now();
        await cliLpush('n1', javaEvent(i));
        const cliDone = Date.now();
        const { value, at } = await waiting;
        // Woken by the notification, or (if it came first) its look found the event.
        if (value !== undefined) expect(value.map((q) => q.event.n)).to.deep.equal([String(i)]);
        expect(at - t0, 'prompt, redis-cli start included').to.be.below(PROMPT_MS);
        afterCli.push(at - cliDone);
        expect((await drain(a, 'n1')).map((q) => q.event.n)).to.deep.equal([String(i)]);
      }
      // The waiter wakes before redis-cli has even exited, or right after.
      expect(median(afterCli), `after redis-cli exit ${afterCli}`).to.be.below(50);
      // 'on' is told, not detected: no info line.
      expect(log.lines.filter((l) => INFO_LINE.test(l.msg))).to.have.length(0);
    });
  });

  describe("javaNodes 'auto'", () => {
    it('starts with keyspace off: a redis-cli LPUSH to one of our sessions is seen only at the timeout', async () => {
      const log = recorder();
      const a = await store('auto', log);
      await a.openSession(rec('u1'));
      // Our own sessions, read every way, are no sign of a Java node.
      await a.touch('u1', { mode: 'pull' }, true, false);
      await a.subscribe('u1', '/w');
      for await (const page of a.subscribersOf('/w')) expect(page.map((s) => s.id)).to.deep.equal(['u1']);
      const t0 = Date.now();
      const waiting = timed(waitFor(a, 'u1', WAIT_MS));
      await sleep(50);
      await cliLpush('u1', javaEvent(1));
      const { value, at } = await waiting;
      expect(value).to.equal(undefined);
      expect(at - t0, 'resolved at its timeout').to.be.at.least(AT_TIMEOUT_MS);
      expect((await drain(a, 'u1')).map((q) => q.event.n)).to.deep.equal(['1']);
      expect(await keyspaceFlags()).to.equal('');
      expect(await patterns()).to.equal(0);
      expect(log.lines.filter((l) => INFO_LINE.test(l.msg))).to.have.length(0);
    });

    const detections: [string, (a: RedisStore) => Promise<unknown>][] = [
      ['touch of a session a Java node created', (a) => a.touch('j1', { mode: 'pull' }, true, true)],
      ['a subscriber read of a session a Java node created', async (a) => {
        await r.hset('p:sc:j1', '/w', JSON.stringify({ subject: '/w', label: null }));
        await r.hset('p:sj:/w', 'j1', '/w');
        await r.zadd('p:zset:sj:/w', String(Date.now()), 'j1');
        const ids: string[] = [];
        for await (const page of a.subscribersOf('/w')) ids.push(...page.map((s) => s.id));
        expect(ids).to.deep.equal(['j1']);
      }],
      ["a waiter's look at a session a Java node created", (a) => waitFor(a, 'j1', WAIT_MS)],
      ['touch of our session after a Java node renewed it', async (a) => {
        await r.hset('p:ss:u2', 'timeToLive', '179999');
        await a.touch('u2', undefined, true, false);
      }],
    ];

    for (const [how, detect] of detections) {
      it(`switches keyspace on at ${how}: one info line, pending pushes found, later LPUSHes wake within ms`, async () => {
        const log = recorder();
        const a = await store('auto', log);
        await a.openSession(rec('u2'));
        await javaJoin(r, 'j1');
        await javaJoin(r, 'j2');
        // A waiter of ours with a push it was not told about.
        const t0 = Date.now();
        const pending = timed(waitFor(a, 'u2', WAIT_MS));
        await sleep(50);
        await cliLpush('u2', javaEvent(1));
        await sleep(200);
        expect(log.lines.filter((l) => INFO_LINE.test(l.msg)), 'nothing seen yet').to.have.length(0);
        expect(await patterns()).to.equal(0);

        void detect(a);
        // Once listening, every waiter is woken to look again: the push is not left to the timeout.
        const { at } = await pending;
        expect(at - t0, 'woken well before its timeout').to.be.below(WAIT_MS - 1500);
        expect((await drain(a, 'u2')).map((q) => q.event.n)).to.deep.equal(['1']);
        const lines = log.lines.filter((l) => INFO_LINE.test(l.msg));
        expect(lines).to.have.length(1);
        expect(lines[0].level).to.equal('info');
        expect(lines[0].obj).to.have.property('seen').that.matches(/^session (j1|u2)$/);
        expect(await keyspaceFlags()).to.include('K');
        await eventually(async () => expect(await patterns()).to.equal(2), 2000, 10);

        const delays: number[] = [];
        for (let i = 2; i < 7; i++) {
          const waiting = timed(waitFor(a, 'u2', WAIT_MS));
          await sleep(30);
          const t1 = Date.now();
          await cliLpush('u2', javaEvent(i));
          const { at: woke } = await waiting;
          delays.push(woke - t1);
          expect((await drain(a, 'u2')).map((q) => q.event.n)).to.deep.equal([String(i)]);
        }
        expect(Math.max(...delays), `wake delays (redis-cli start included) ${delays}`).to.be.below(PROMPT_MS);
        // More Java sessions read: still the one line.
        await a.touch('j2', undefined, true, true);
        await waitFor(a, 'j2', 10);
        for await (const page of a.subscribersOf('/w')) void page;
        expect(log.lines.filter((l) => INFO_LINE.test(l.msg))).to.have.length(1);
      });
    }
  });

  describe('a lost wake message', () => {
    it('is made up when the pub/sub connection comes back: the waiter gets the event well before its timeout', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('k1'));
      const t0 = Date.now();
      const waiting = timed(waitFor(a, 'k1', 5000));
      await sleep(50);
      // Both stores' subscriber connections are cut; ioredis reconnects after 50 ms at the soonest.
      const killed = r.client('KILL', 'TYPE', 'pubsub');
      const enqueued = b.enqueue([{ id: 'k1', q: ev(1) }]);
      expect(await killed).to.equal(2);
      expect(await enqueued).to.deep.equal(['ok']);
      const { at } = await waiting;
      expect(at - t0, 'woken well before its timeout').to.be.below(1500);
      expect((await drain(a, 'k1')).map((q) => q.event.n)).to.deep.equal(['1']);
      // Listening again: the next enqueue wakes at once.
      await eventually(async () => expect(await r.pubsub('NUMSUB', 'pushlet:wake')).to.deep.equal(['pushlet:wake', 2]), 5000, 10);
      const next = timed(waitFor(a, 'k1', 5000));
      await sleep(30);
      const t1 = Date.now();
      await b.enqueue([{ id: 'k1', q: ev(2) }]);
      expect((await next).at - t1).to.be.below(PROMPT_MS);
      expect((await drain(a, 'k1')).map((q) => q.event.n)).to.deep.equal(['2']);
    });
  });

  describe('touch(..., waiting) reads the queue for the wait that follows', () => {
    it('an enqueue by another node between the touch and the wait: the wait looks again and answers with the event', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('t1'));
      expect(await a.touch('t1', undefined, true, true)).to.include({ id: 't1', online: true });
      // Know when the wake message reached this process (a's subscriber reads it in the same turn).
      const listener = rawClient(url);
      try {
        const heard = new Promise<void>((resolve) => listener.on('message', () => resolve()));
        await listener.subscribe('pushlet:wake');
        expect(await b.enqueue([{ id: 't1', q: ev(1) }])).to.deep.equal(['ok']);
        const published = await Promise.race([heard.then(() => true), sleep(2000).then(() => false)]);
        expect(published, 'wake message published').to.equal(true);
        await sleep(20);
      } finally {
        listener.disconnect();
      }
      const t0 = Date.now();
      const { value, at } = await timed(waitFor(a, 't1', WAIT_MS));
      expect(at - t0, 'prompt').to.be.below(PROMPT_MS);
      expect(value?.map((q) => q.event.n), 'the look found the event').to.deep.equal(['1']);
      await a.ack('t1', value!);
      expect(await r.exists('p:eq:t1')).to.equal(0);
    });

    it('nothing queued: the wait sends no command of its own, and still wakes at once on an enqueue', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('t2'));
      await a.touch('t2', undefined, true, true);
      const before = a.stats().commands;
      const waiting = timed(waitFor(a, 't2', WAIT_MS));
      await sleep(100);
      expect(a.stats().commands - before, 'commands sent by the wait').to.equal(0);
      const t0 = Date.now();
      await b.enqueue([{ id: 't2', q: ev(1) }]);
      expect((await waiting).at - t0).to.be.below(PROMPT_MS);
      expect((await drain(a, 't2')).map((q) => q.event.n)).to.deep.equal(['1']);
    });

    it('events queued: the wait answers at once with them, oldest first, without a command, and they can be acked', async () => {
      const a = await store('off');
      await a.openSession(rec('t3'));
      await a.enqueue([{ id: 't3', q: ev(1) }, { id: 't3', q: ev(2) }]);
      await cliLpush('t3', javaEvent(3));
      await a.touch('t3', undefined, true, true);
      const before = a.stats().commands;
      const t0 = Date.now();
      const { value, at } = await timed(waitFor(a, 't3', WAIT_MS));
      expect(at - t0).to.be.below(PROMPT_MS);
      expect(a.stats().commands - before, 'commands sent by the wait').to.equal(0);
      expect(value?.map((q) => q.event.n)).to.deep.equal(['1', '2', '3']);
      await a.ack('t3', value!);
      expect(await r.exists('p:eq:t3')).to.equal(0);
    });
  });

  describe('messages on pushlet:wake that are not ours', () => {
    it('a malformed message wakes at most a session of that name, and waking goes on', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('x1'));
      const waiting = timed(waitFor(a, 'x1', WAIT_MS));
      await sleep(50);
      for (const m of ['{"ids":', '{"gone":"x1"}', '[1,{},null]', '{}', '']) await r.publish('pushlet:wake', m);
      await sleep(50);
      const t0 = Date.now();
      await b.enqueue([{ id: 'x1', q: ev(1) }]);
      expect((await waiting).at - t0).to.be.below(PROMPT_MS);
      expect((await drain(a, 'x1')).map((q) => q.event.n)).to.deep.equal(['1']);
    });
  });

  describe("after this node read a whole queue and acked it all, the next wait or refresh needn't read it", () => {
    it('a stream-like round: peek, ack, then the wait sends no command and is still woken by another node', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('e1'));
      await b.enqueue([{ id: 'e1', q: ev(1) }, { id: 'e1', q: ev(2) }, { id: 'e1', q: ev(3) }]);
      // As a woken waiter does: the wake-up came, then the read.
      await sleep(50);
      const read = await a.peek('e1');
      await a.ack('e1', read);
      const before = a.stats().commands;
      const waiting = timed(waitFor(a, 'e1', WAIT_MS));
      await sleep(100);
      expect(a.stats().commands - before, 'commands sent by the wait').to.equal(0);
      const t0 = Date.now();
      await b.enqueue([{ id: 'e1', q: ev(4) }]);
      expect((await waiting).at - t0).to.be.below(PROMPT_MS);
      expect((await drain(a, 'e1')).map((q) => q.event.n)).to.deep.equal(['4']);
    });

    it('a pull-like cycle: the refresh after an ack of everything read sends only its session read', async () => {
      const a = await store('off');
      await a.openSession(rec('e2'));
      await a.enqueue([{ id: 'e2', q: ev(1) }]);
      await a.ack('e2', await a.peek('e2'));
      const before = a.stats().commands;
      // A touch within a second of none: the session is read (two commands), the queue is not.
      await a.touch('e2', undefined, true, true);
      expect(a.stats().commands - before, 'commands sent by the refresh').to.equal(2);
    });

    it('a push between the read and the ack, or an ack of part of the read, makes the next wait look', async () => {
      const a = await store('off');
      const b = await store('off');
      await a.openSession(rec('e3'));
      await a.enqueue([{ id: 'e3', q: ev(1) }, { id: 'e3', q: ev(2) }]);
      let read = await a.peek('e3');
      await b.enqueue([{ id: 'e3', q: ev(3) }]);
      await sleep(50);
      await a.ack('e3', read);
      // Woken since the read: the wait looks, and finds event 3 at once.
      let t0 = Date.now();
      let got = await timed(waitFor(a, 'e3', WAIT_MS));
      expect(got.at - t0).to.be.below(PROMPT_MS);
      expect(got.value?.map((q) => q.event.n)).to.deep.equal(['3']);

      await a.enqueue([{ id: 'e3', q: ev(4) }]);
      read = await a.peek('e3');
      expect(read.map((q) => q.event.n)).to.deep.equal(['3', '4']);
      await a.ack('e3', read.slice(0, 1));
      t0 = Date.now();
      got = await timed(waitFor(a, 'e3', WAIT_MS));
      expect(got.at - t0, 'event 4, still queued, found at once').to.be.below(PROMPT_MS);
      expect(got.value?.map((q) => q.event.n)).to.deep.equal(['4']);
    });
  });
});
