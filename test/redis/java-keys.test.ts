/**
 * Replays the xml-strict run of the Java server (reference/java-redis/xml-strict__*) through the
 * Redis store with the same session ids, and compares every key, type, field and value with the
 * Java dump after each step. Times differ; our own extra fields must be new names.
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { fields } from '../../src/protocol/event';
import type { RedisStore } from '../../src/store/redis';
import type { NewSession } from '../../src/store/store';
import { connectStore, dumpKeys, expectSameState, javaDump, rawClient } from './support';
import { drain } from '../support/store-contract';

const A = '-62710f17:1a21cfa5ca6:-8000';
const P = 'persist-xml-strict';
const LEASE = 180_000;

function rec(id: string, temporary: boolean): NewSession {
  return { id, format: 'xml-strict', temporary, createDate: Date.now(), userAgent: 'curl/7.88.1', address: '127.0.0.1' };
}

/** The published data events of the run, as Java queued them (p_sid comes from the receiver). */
const SPECIAL = {
  p_from: P, txt: '你好 <b>bold</b> "dq" \'sq\' & amp \\ backslash\nline2 </x> end', p_time: '1795782499',
  p_event: 'data', p_subject: '/t/a', k: 'v', p_id: P, ts: '1234567890123',
};
const numbered = (n: number) => ({
  p_from: P, p_time: '1795782501', p_event: 'data', p_subject: '/t/a', p_id: P, n: String(n),
});

describe('Redis store: keys and values equal the Java dumps (xml-strict run)', function () {
  this.timeout(10_000);
  let store: RedisStore;
  let r: Redis;
  const check = async (step: string) => expectSameState(await dumpKeys(r), javaDump(`xml-strict__${step}`), step);

  before(async () => {
    r = rawClient();
    await r.flushdb();
    store = await connectStore({ leaseMs: LEASE });
  });

  after(async () => {
    await store.close();
    r.disconnect();
  });

  it('02 join: p:ss hashes and p:zset:as', async () => {
    await store.openSession(rec(A, true));
    await store.openSession(rec(P, false));
    await check('02_after_join');
    expect(await r.zscore('p:zset:as', A)).to.match(/^\d{13}$/);
  });

  it('03 listen pull with subject: p:sr mode, p:sc, p:sj, p:zset:sj', async () => {
    await store.kick(A, { address: '127.0.0.1', mode: 'pull' });
    await store.subscribe(A, '/t/a');
    await check('03_after_listen');
  });

  it('06 subscribes, one labelled, one to two subjects', async () => {
    await store.subscribe(A, '/t/b');
    await store.subscribe(A, '/t/c', 'lbl-c');
    await store.subscribe(A, '/t/d,/t/e');
    await store.subscribe(P, '/t/p');
    await check('06_after_subscribes');
  });

  it('07 a published event queued as Java queues it', async () => {
    expect(await store.enqueue([{ id: A, q: { event: fields(SPECIAL), sid: '/t/a' } }])).to.deep.equal(['ok']);
    await check('07_after_publish_queued');
    // Byte for byte the same JSON text, apart from field order (a Java HashMap's).
    const [raw] = await r.lrange(`p:eq:${A}`, 0, -1);
    expect(raw).to.include('"txt":"你好 <b>bold</b> \\"dq\\" \'sq\' & amp \\\\ backslash\\nline2 </x> end"');
  });

  it('08 refresh takes the queue', async () => {
    expect((await drain(store, A)).map((q) => q.event.txt)).to.deep.equal([SPECIAL.txt]);
    await check('08_after_refresh');
  });

  it('17 unsubscribe by p_sid', async () => {
    await store.unsubscribe(A, '/t/b');
    await store.unsubscribe(A, '/t/c');
    expect(await store.unsubscribe(A, '/t/zzz')).to.equal(null);
    await check('17_after_unsubscribe_sid');
  });

  it('20 three events queued: the list holds them newest first, as Java LPUSHes', async () => {
    for (const n of [1, 2, 3]) await store.enqueue([{ id: A, q: { event: fields(numbered(n)), sid: '/t/a' } }]);
    await check('20_three_events_queued');
    expect((await drain(store, A)).map((q) => q.event.n)).to.deep.equal(['1', '2', '3']);
  });

  it('22 unsubscribe all', async () => {
    await store.unsubscribe(A);
    await check('22_after_unsubscribe_all');
  });

  it('25 leave: the temporary session is deleted, the persistent one kept with timeToLive 0', async () => {
    await store.stopSession(A);
    await store.stopSession(P);
    await check('25_after_leave');
  });

  it('27 re-join of the persistent session: lease back, createDate and zset score kept', async () => {
    const before = await r.hget(`p:ss:${P}`, 'createDate');
    const score = await r.zscore('p:zset:as', P);
    await store.openSession({ ...rec(P, false), createDate: Date.now() + 5000 });
    await check('27_after_rejoin_persistent');
    expect(await r.hget(`p:ss:${P}`, 'createDate')).to.equal(before);
    expect(await r.zscore('p:zset:as', P)).to.equal(score);
  });

  it('lower-cases the User-Agent as Java stores it', async () => {
    await store.openSession({ ...rec('ua-case', true), userAgent: 'Mozilla Java/1.8' });
    expect(await r.hget('p:ss:ua-case', 'userAgent')).to.equal('mozilla java/1.8');
  });
});
