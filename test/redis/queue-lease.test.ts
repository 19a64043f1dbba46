/**
 * Two shortcuts of the Redis store, checked on the keys themselves: `ack` drops the oldest end of
 * `p:eq:<id>` with one LTRIM while the acknowledged events are still there (LREM per event
 * otherwise), and `kick` writes nothing when the getSession just before it shows a lease this
 * node renewed just now.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields, type Queued } from '../../src/protocol/event';
import type { RedisStore } from '../../src/store/redis';
import type { NewSession } from '../../src/store/store';
import { TEST_DB, connectStore, rawClient } from './support';

const ID = 'q';
const QUEUE = `p:eq:${ID}`;
const SESSION = `p:ss:${ID}`;
const LISTEN = `p:sr:${ID}`;
/** A pub/sub channel outside the key model: the end mark of QueueEvents. */
const MARK = 'pushlet-test:mark';

function rec(id: string): NewSession {
  return { id, format: 'xml', temporary: true, createDate: Date.now(), userAgent: 'curl/7.88.1', address: '10.0.0.1' };
}

const ev = (n: number): Queued => ({ event: fields({ p_event: 'data', n }), sid: '/t' });
const numbers = (qs: readonly Queued[]): string[] => qs.map((q) => q.event.n);

/** The keyspace events of QUEUE, as other nodes' waiters get them: which commands an ack ran. */
class QueueEvents {
  private readonly sub = rawClient();
  private readonly seen: string[] = [];
  private marked?: () => void;

  async start(): Promise<void> {
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === MARK) this.marked?.();
      else this.seen.push(message);
    });
    await this.sub.subscribe(`__keyspace@${TEST_DB}__:${QUEUE}`, MARK);
  }

  /** The events since the last take; a mark published after them arrives after them. */
  async take(r: Redis): Promise<string[]> {
    const marked = new Promise<void>((resolve) => (this.marked = resolve));
    await r.publish(MARK, '');
    await marked;
    return this.seen.splice(0);
  }

  close(): void {
    this.sub.disconnect();
  }
}

describe('Redis store: ack trims the queue', function () {
  this.timeout(15_000);
  let r: Redis;
  let events: QueueEvents;
  let node: RedisStore;
  const stores: RedisStore[] = [];
  const newStore = async () => {
    const s = await connectStore();
    stores.push(s);
    return s;
  };

  /** Queues `ns` in order; returns the queue as stored, newest first, and forgets its events. */
  async function fill(ns: readonly number[]): Promise<string[]> {
    expect(await node.enqueue(ns.map((n) => ({ id: ID, q: ev(n) })))).to.deep.equal(ns.map(() => 'ok'));
    const stored = await r.lrange(QUEUE, 0, -1);
    expect(stored).to.have.length(ns.length);
    await events.take(r);
    return stored;
  }

  const queued = () => r.lrange(QUEUE, 0, -1);

  beforeEach(async () => {
    r = rawClient();
    await r.flushdb();
    node = await newStore();
    // The events below are the store's keyspace notifications: it must have enabled them.
    expect(node.polling).to.equal(false);
    await node.openSession(rec(ID));
    events = new QueueEvents();
    await events.start();
  });

  afterEach(async () => {
    events.close();
    await Promise.all(stores.splice(0).map((s) => s.close()));
    r.disconnect();
  });

  it('acking the oldest events leaves exactly the newer ones, in order, with one LTRIM', async () => {
    const [s4, s3] = await fill([1, 2, 3, 4]);
    const peeked = await node.peek(ID);
    expect(numbers(peeked)).to.deep.equal(['1', '2', '3', '4']);
    await node.ack(ID, peeked.slice(0, 2));
    expect(await queued()).to.deep.equal([s4, s3]);
    expect(await events.take(r)).to.deep.equal(['ltrim']);
  });

  it('acking after another node removed the oldest event removes only the acked ones, by LREM', async () => {
    const [s3, s2] = await fill([1, 2, 3]);
    const peeked = await node.peek(ID);
    const other = await newStore();
    await other.ack(ID, (await other.peek(ID)).slice(0, 1));
    expect(await queued()).to.deep.equal([s3, s2]);
    await events.take(r);

    await node.ack(ID, peeked.slice(0, 2));
    expect(await queued()).to.deep.equal([s3]);
    // Event 1 is no longer there: its LREM removes nothing and raises no event.
    expect(await events.take(r)).to.deep.equal(['lrem']);
  });

  it('acking after a newer event was pushed between peek and ack keeps the newer one, with one LTRIM', async () => {
    await fill([1, 2, 3]);
    const peeked = await node.peek(ID);
    const other = await newStore();
    expect(await other.enqueue([{ id: ID, q: ev(4) }])).to.deep.equal(['ok']);
    const [s4] = await queued();
    await events.take(r);

    await node.ack(ID, peeked);
    expect(await queued()).to.deep.equal([s4]);
    expect(numbers(await node.peek(ID))).to.deep.equal(['4']);
    expect(await events.take(r)).to.deep.equal(['ltrim']);
  });

  it('two identical events queued: acking one leaves exactly one', async () => {
    const [first, second] = await fill([1, 1]);
    expect(first).to.equal(second);
    const peeked = await node.peek(ID);
    await node.ack(ID, peeked.slice(0, 1));
    expect(await queued()).to.deep.equal([first]);
    expect(await events.take(r)).to.deep.equal(['ltrim']);
  });

  it('two identical events queued, acked by LREM: acking one leaves exactly one', async () => {
    const [same] = await fill([0, 1, 1]);
    const peeked = await node.peek(ID);
    const other = await newStore();
    // Another node takes event 0, so the tail no longer matches and the ack goes by LREM.
    await other.ack(ID, (await other.peek(ID)).slice(0, 1));
    expect(await queued()).to.deep.equal([same, same]);
    await events.take(r);

    await node.ack(ID, peeked.slice(0, 2));
    expect(await queued()).to.deep.equal([same]);
    expect(await events.take(r)).to.deep.equal(['lrem']);
  });

  it('nothing acked: the queue is unchanged and nothing is sent to Redis', async () => {
    const before = await fill([1, 2]);
    await node.peek(ID);
    const sent = node.stats().commands;
    await node.ack(ID, []);
    expect(node.stats().commands).to.equal(sent);
    expect(await queued()).to.deep.equal(before);
    expect(await events.take(r)).to.deep.equal([]);
  });
});

describe('Redis store: touch renews only when due', function () {
  this.timeout(15_000);
  const LEASE = 60_000;
  const ADDRESS = '10.0.0.1';
  let r: Redis;
  let store: RedisStore;

  /** The session's hashes as stored. */
  const state = async () => ({ ss: await r.hgetall(SESSION), sr: await r.hgetall(LISTEN) });

  /** Sets lastSeen `ageMs` in the past, as our node would have written it then. */
  async function seenAgo(key: string, ageMs: number): Promise<number> {
    const at = Date.now() - ageMs;
    await r.hset(key, 'lastSeen', String(at));
    return at;
  }

  beforeEach(async () => {
    r = rawClient();
    await r.flushdb();
    store = await connectStore({ leaseMs: LEASE });
    await store.openSession(rec(ID));
    await store.kick(ID, { address: ADDRESS, mode: 'pull' });
    expect(await r.hget(LISTEN, 'mode')).to.equal('pull');
  });

  afterEach(async () => {
    await store.close();
    r.disconnect();
  });

  it('writes nothing while the lease is full and lastSeen recent: two reads, no write', async () => {
    await seenAgo(SESSION, 100);
    const before = await state();
    const sent = store.stats().commands;
    expect(await store.touch(ID, { address: ADDRESS, mode: 'pull' })).to.include({ id: ID, online: true });
    expect(store.stats().commands - sent, 'commands sent by touch').to.equal(2);
    expect(await state()).to.deep.equal(before);
  });

  it('writes a kick with a changed address at once', async () => {
    const seen = await seenAgo(SESSION, 100);
    const before = await state();
    await store.touch(ID, { address: '10.0.0.2', mode: 'pull' });
    const after = await state();
    expect(Number(after.ss.lastSeen)).to.be.above(seen);
    expect(after).to.deep.equal({ ss: { ...before.ss, address: '10.0.0.2', lastSeen: after.ss.lastSeen }, sr: before.sr });
  });

  it('writes a kick with a changed mode at once', async () => {
    const seen = await seenAgo(SESSION, 100);
    const before = await state();
    await store.touch(ID, { address: ADDRESS, mode: 'stream' });
    const after = await state();
    expect(Number(after.ss.lastSeen)).to.be.above(seen);
    expect(after).to.deep.equal({ ss: { ...before.ss, lastSeen: after.ss.lastSeen }, sr: { mode: 'stream' } });
  });

  it('writes a kick after someone else changed the lease in Redis', async () => {
    const seen = await seenAgo(SESSION, 100);
    // What a Java node renewing with its own lease, or an aging pass, leaves behind.
    await r.hset(SESSION, 'timeToLive', '59000');
    await store.touch(ID, { address: ADDRESS, mode: 'pull' });
    const after = await r.hgetall(SESSION);
    expect(after.timeToLive).to.equal(String(LEASE));
    expect(after.ownTimeToLive).to.equal(String(LEASE));
    expect(Number(after.lastSeen)).to.be.above(seen);
  });

  it('writes a kick once lastSeen is min(1 s, lease / 10) old', async () => {
    let seen = await seenAgo(SESSION, 1100);
    await store.touch(ID, { address: ADDRESS, mode: 'pull' });
    expect(Number(await r.hget(SESSION, 'lastSeen')), 'lease 60 s, lastSeen 1.1 s old').to.be.above(seen);

    // A 2 s lease: a tenth of it, 200 ms, is the limit.
    const short = await connectStore({ leaseMs: 2000 });
    try {
      await short.openSession(rec('short'));
      seen = await seenAgo('p:ss:short', 300);
      await short.touch('short');
    } finally { await short.close(); }
    expect(Number(await r.hget('p:ss:short', 'lastSeen')), 'lease 2 s, lastSeen 300 ms old').to.be.above(seen);
  });

  it('a kick always writes', async () => {
    const seen = await seenAgo(SESSION, 100);
    await store.kick(ID, { address: ADDRESS, mode: 'pull' });
    expect(Number(await r.hget(SESSION, 'lastSeen'))).to.be.above(seen);
  });

  it('does not renew an offline session unless asked to revive it', async () => {
    await r.hset(SESSION, 'timeToLive', '0', 'ownTimeToLive', '0');
    expect(await store.touch(ID, undefined, false)).to.include({ online: false });
    expect(await r.hget(SESSION, 'timeToLive')).to.equal('0');
    expect(await store.touch(ID)).to.include({ online: false });
    expect(await r.hget(SESSION, 'timeToLive')).to.equal(String(LEASE));
  });
});
