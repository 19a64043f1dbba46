/** A publish carrying p_pubid reaches each receiver once, however often it is retried. */
import { expect } from 'chai';
import { TestClient } from '../support/client';
import { startServer, type Running } from '../support/server';

describe('publish ids (p_pubid): retries reach each receiver once', () => {
  let s: Running;
  before(async () => { s = await startServer({ 'subject.match': 'exact' }); });
  after(async () => { await s.server.close(); });

  it('queues a retried multicast only for receivers that do not have it yet, and keeps p_pubid in the event', async () => {
    const subject = `/pubid/${Date.now()}`;
    const early = await new TestClient(s.srv).joinPull(subject);
    const pub = new TestClient(s.srv);
    await pub.join();
    expect((await pub.event('publish', { p_subject: subject, p_pubid: 'order-17', n: '1' }))[0].p_event).to.equal('publish-ack');
    // A receiver that joined between the first try and the retry gets the retry; the first does not get it twice.
    const late = await new TestClient(s.srv).joinPull(subject);
    for (let i = 0; i < 2; i++) expect((await pub.event('publish', { p_subject: subject, p_pubid: 'order-17', n: '1' }))[0].p_event).to.equal('publish-ack');
    expect((await pub.event('publish', { p_subject: subject, p_pubid: 'order-18', n: '2' }))[0].p_event).to.equal('publish-ack');
    const first = await early.refresh();
    expect(first.map((e) => e.n)).to.deep.equal(['1', '2']);
    expect(first[0].p_pubid).to.equal('order-17');
    expect((await late.refresh()).map((e) => e.n)).to.deep.equal(['1', '2']);
  });

  it('does the same for a unicast (p_to)', async () => {
    const to = await new TestClient(s.srv).joinPull(`/pubid/to/${Date.now()}`);
    const pub = new TestClient(s.srv);
    await pub.join();
    for (let i = 0; i < 3; i++) await pub.event('publish', { p_to: to.id, p_pubid: `u-${to.id}`, n: 'once' });
    expect((await to.refresh()).map((e) => e.n)).to.deep.equal(['once']);
  });

  it('refuses a p_pubid longer than 128 characters with a nack', async () => {
    const pub = new TestClient(s.srv);
    await pub.join();
    const [e] = await pub.event('publish', { p_subject: '/pubid/long', p_pubid: 'x'.repeat(129) });
    expect(e).to.include({ p_event: 'nack', p_reason: 'p_pubid longer than 128 characters' });
  });
});
