import { expect } from 'chai';
import { http, qs, stream, TestClient } from '../support/client';
import { startJvm, type Jvm } from '../support/jvm';
import { startServer, type Running } from '../support/server';

/** docs/PROTOCOL.md section 6: `p_format=ser`, read by a real JVM as Java clients read it. */
describe('p_format=ser (Java serialization)', () => {
  let s: Running;
  let jvm: Jvm;
  before(async function () {
    this.timeout(60000);
    jvm = startJvm();
    s = await startServer();
  });
  after(async () => {
    jvm.close();
    await s.server.close();
  });

  const SPECIAL = '你好 <b>"dq"</b> \'sq\' & \\ backslash\nline2 😀';
  const get = async (fields: Record<string, string>) => {
    const r = await http(`${s.srv}?${qs(fields)}`);
    expect(r.status, r.text).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/x-java-serialized-object');
    return jvm.read(r.body);
  };

  it('answers join, a pull listen and a refresh with Event objects a JVM reads', async function () {
    this.timeout(30000);
    const [ack] = await get({ p_event: 'join', p_format: 'ser' });
    expect(ack).to.include({ p_event: 'join-ack', p_format: 'ser' });
    expect(ack.p_time).to.match(/^\d+$/);
    const id = ack.p_id;
    expect((await get({ p_event: 'listen', p_id: id, p_mode: 'pull', p_subject: '/ser' })).map((e) => e.p_event)).to.deep.equal(['listen-ack', 'refresh']);

    const publisher = new TestClient(s.srv);
    await publisher.join();
    await publisher.event('publish', { p_subject: '/ser', txt: SPECIAL, n: '1' });
    await publisher.event('publish', { p_subject: '/ser', txt: 'second', n: '2' });

    const got = await get({ p_event: 'refresh', p_id: id });
    expect(got.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'data', 'data', 'refresh']);
    expect(got[1]).to.include({ p_subject: '/ser', txt: SPECIAL, n: '1', p_from: publisher.id, p_seq: '1', p_sid: '/ser' });
    expect(got[2]).to.include({ txt: 'second', n: '2', p_seq: '2' });
    expect(got[3].p_url).to.include(`p_id=${id}`);
  });

  it('streams events one by one in one serialization stream', async function () {
    this.timeout(30000);
    const publisher = new TestClient(s.srv);
    await publisher.join();
    const url = `${s.srv}?${qs({ p_event: 'join-listen', p_format: 'ser', p_mode: 'stream', p_subject: '/ser/stream' })}`;
    const r = await stream(url, (text) => text.includes('last one'), 10000, () => {
      void (async () => {
        await publisher.event('publish', { p_subject: '/ser/stream', txt: SPECIAL });
        await publisher.event('publish', { p_subject: '/ser/stream', txt: 'last one' });
      })();
    });
    expect(r.completed).to.equal(true);
    expect(r.headers['content-type']).to.equal('application/x-java-serialized-object');
    // Heartbeats (every queue.read.timeout.millis) may come between.
    const got = jvm.read(r.body).filter((e) => e.p_event !== 'hb');
    expect(got.map((e) => e.p_event)).to.deep.equal(['join-listen-ack', 'data', 'data']);
    expect(got.slice(1).map((e) => e.txt)).to.deep.equal([SPECIAL, 'last one']);
  });
});
