import { expect } from 'chai';
import { http, parseXmlEvents, qs, sleep, stream, TestClient } from '../support/client';
import { startServer, type Running } from '../support/server';

/** docs/PROTOCOL.md section 5: the data channel in its three modes, and section 7's headers. */
describe('data channel (section 5)', () => {
  let s: Running;
  before(async () => { s = await startServer(); });
  after(async () => { await s.server.close(); });

  const url = (fields: Record<string, string>) => `${s.srv}?${qs(fields)}`;

  it('pull: listen-ack then at once a refresh event with p_wait and p_url', async () => {
    const c = new TestClient(s.srv);
    await c.join();
    const events = await c.event('listen', { p_mode: 'pull', p_subject: '/ch/a' });
    expect(events.map((e) => e.p_event)).to.deep.equal(['listen-ack', 'refresh']);
    expect(events[0]).to.include({ p_mode: 'pull', p_format: 'xml', p_sid: '/ch/a', p_id: c.id });
    expect(Number(events[1].p_wait)).to.be.within(10, 20);
    expect(events[1].p_url).to.equal(`/pushlet/pushlet.srv?p_id=${c.id}&p_event=refresh`);
  });

  it('pull: an empty refresh waits queue.read.timeout.millis, then sends hb and refresh', async () => {
    const c = await new TestClient(s.srv).joinPull('/ch/empty');
    const t0 = Date.now();
    const events = await c.event('refresh');
    expect(Date.now() - t0).to.be.at.least(250);
    expect(events.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'hb', 'refresh']);
    expect(events[1].p_seq).to.equal('1');
  });

  it('pull: a waiting refresh returns as soon as an event is published', async () => {
    const c = await new TestClient(s.srv).joinPull('/ch/wake');
    const pending = c.event('refresh');
    await sleep(50);
    await c.event('publish', { p_subject: '/ch/wake', n: '1' });
    const events = await pending;
    expect(events.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'data', 'refresh']);
  });

  it('delivers events oldest first, p_seq numbered per response (DIFF of Java\'s newest-first)', async () => {
    const c = await new TestClient(s.srv).joinPull('/ch/order');
    for (const n of ['1', '2', '3']) await c.event('publish', { p_subject: '/ch/order', n });
    const got = await c.refresh();
    expect(got.map((e) => e.n)).to.deep.equal(['1', '2', '3']);
    expect(got.map((e) => e.p_seq)).to.deep.equal(['1', '2', '3']);
    await c.event('publish', { p_subject: '/ch/order', n: '4' });
    expect((await c.refresh()).map((e) => e.p_seq)).to.deep.equal(['1']);
  });

  it('poll: join-listen answers with refresh (poll wait range); refresh does not wait', async () => {
    const r = await http(url({ p_event: 'join-listen', p_format: 'xml', p_mode: 'poll', p_subject: '/ch/poll' }));
    const events = parseXmlEvents(r.text);
    expect(events.map((e) => e.p_event)).to.deep.equal(['join-listen-ack', 'refresh']);
    expect(events[0]).to.include({ p_mode: 'poll', p_sid: '/ch/poll' });
    const id = events[0].p_id;
    const t0 = Date.now();
    const again = parseXmlEvents((await http(url({ p_event: 'refresh', p_id: id }))).text);
    expect(Date.now() - t0).to.be.below(250);
    expect(again.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'hb', 'refresh']);
  });

  it('stream: ack, an hb at once, then each event flushed as published, p_seq counting on', async () => {
    const pub = new TestClient(s.srv);
    await pub.join();
    const r = await stream(
      url({ p_event: 'join-listen', p_format: 'xml-strict', p_mode: 'stream', p_subject: '/ch/s' }),
      (t) => t.includes('k="streamed"'),
      3000,
      () => void sleep(100).then(() => pub.event('publish', { p_subject: '/ch/s', k: 'streamed' })),
    );
    expect(r.completed, 'the event arrived while the response stayed open').to.equal(true);
    expect(r.headers['content-type']).to.equal('text/xml;charset=UTF-8');
    expect(r.headers['transfer-encoding']).to.equal('chunked');
    const events = parseXmlEvents(r.text);
    expect(events.map((e) => e.p_event)).to.deep.equal(['join-listen-ack', 'hb', 'data']);
    expect(events.map((e) => e.p_seq)).to.deep.equal([undefined, '1', '2']);
  });

  it('stream: sends an hb after each queue.read.timeout without events', async () => {
    const r = await stream(url({ p_event: 'join-listen', p_format: 'xml', p_subject: '/ch/hb' }), (t) => (t.match(/p_event="hb"/g) ?? []).length >= 3, 3000);
    expect(r.completed).to.equal(true);
    expect(parseXmlEvents(r.text).slice(1, 4).map((e) => e.p_seq)).to.deep.equal(['1', '2', '3']);
  });

  it('stream: ends at once, with no abort, when the session leaves (DIFF 21)', async () => {
    const c = new TestClient(s.srv);
    await c.join();
    const t0 = Date.now();
    const r = await stream(url({ p_event: 'listen', p_id: c.id, p_subject: '/ch/abort' }), () => false, 3000,
      () => void sleep(100).then(() => c.event('leave')));
    expect(r.completed, 'the response ended').to.equal(true);
    expect(Date.now() - t0, 'at once, not after a long wait').to.be.below(2000);
    // Heartbeats (one, or more on a slow machine), and no abort.
    const types = parseXmlEvents(r.text).map((e) => e.p_event);
    expect(types[0]).to.equal('listen-ack');
    expect(types.slice(1).every((t) => t === 'hb'), types.join(',')).to.equal(true);
  });

  it('pull: a held refresh ends at once with only its refresh-ack when the session leaves (DIFF 21)', async () => {
    const slow = await startServer({ 'queue.read.timeout.millis': 5000 });
    try {
      const c = await new TestClient(slow.srv).joinPull('/ch/leave');
      const t0 = Date.now();
      const held = c.event('refresh');
      await sleep(100);
      expect((await new TestClient(slow.srv).send({ p_event: 'leave', p_id: c.id })).events[0].p_event).to.equal('leave-ack');
      expect((await held).map((e) => e.p_event)).to.deep.equal(['refresh-ack']);
      expect(Date.now() - t0).to.be.below(2000);
    } finally { await slow.server.close(); }
  });

  it('pull: a held refresh of a session the server stops (its lease ran out) ends with abort', async () => {
    const aging = await startServer({ 'queue.read.timeout.millis': 5000, 'session.lease.millis': 400, 'session.aging.interval.millis': 100 });
    try {
      const c = await new TestClient(aging.srv).joinPull('/ch/expire');
      const t0 = Date.now();
      const events = await c.event('refresh');
      expect(events.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'abort']);
      expect(Date.now() - t0).to.be.below(3000);
    } finally { await aging.server.close(); }
  });

  it('forces pull for a Safari User-Agent (listen.force.pull.agents)', async () => {
    const r = await http(url({ p_event: 'join-listen', p_format: 'xml', p_mode: 'stream', p_subject: '/ch/x' }), { headers: { 'user-agent': 'Mozilla/5.0 Safari/605' } });
    const events = parseXmlEvents(r.text);
    expect(events[0].p_mode).to.equal('pull');
    expect(events[1].p_event).to.equal('refresh');
  });

  it('does not lose events when a streaming client goes away', async () => {
    const id = `gone-${Date.now()}`;
    const c = new TestClient(s.srv);
    await c.join({ p_id: id });
    const r = await stream(url({ p_event: 'listen', p_id: id, p_subject: '/ch/gone' }), (t) => t.includes('p_event="hb"'), 2000);
    expect(r.completed).to.equal(true);
    await sleep(50);
    await c.event('publish', { p_subject: '/ch/gone', n: '1' });
    await c.event('publish', { p_subject: '/ch/gone', n: '2' });
    await c.event('listen', { p_mode: 'pull' });
    expect((await c.refresh()).map((e) => e.n)).to.deep.equal(['1', '2']);
  });
});

describe('HTTP headers (section 7)', () => {
  let s: Running;
  before(async () => { s = await startServer(); });
  after(async () => { await s.server.close(); });

  it('sends the no-cache headers, both Cache-Control lines', async () => {
    const r = await http(`${s.srv}?p_event=join&p_format=xml`);
    const pairs: string[] = [];
    for (let i = 0; i < r.rawHeaders.length; i += 2) pairs.push(`${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}`);
    expect(pairs).to.include.members([
      'Expires: Sat, 6 May 1995 12:00:00 GMT',
      'Cache-Control: no-store, no-cache, must-revalidate',
      'Cache-Control: post-check=0, pre-check=0',
      'Pragma: no-cache',
    ]);
  });

  it('sends Connection: close to a Java client (User-Agent with "java" not at the start)', async () => {
    const java = await http(`${s.srv}?p_event=join&p_format=xml`, { headers: { 'user-agent': 'Mozilla/4.0 (Java/1.8)', connection: 'keep-alive' } });
    expect(java.headers.connection).to.equal('close');
    const other = await http(`${s.srv}?p_event=join&p_format=xml`, { headers: { 'user-agent': 'java-agent', connection: 'keep-alive' } });
    expect(other.headers.connection).to.not.equal('close');
  });

  for (const [format, type] of [['xml-strict', 'text/xml;charset=UTF-8'], ['xml', 'text/plain;charset=UTF-8'], ['js', 'text/html;charset=UTF-8'], ['json', 'text/html; charset=UTF-8']]) {
    it(`answers ${format} as ${type}`, async () => {
      const r = await http(`${s.srv}?p_event=join&p_format=${format}`);
      expect(r.headers['content-type']).to.equal(type);
    });
  }
});
