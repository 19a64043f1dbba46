import { expect } from 'chai';
import { http, qs, TestClient, type Ev } from '../support/client';
import { startServer, type Running } from '../support/server';

/** docs/PROTOCOL.md sections 2 and 3: every request case and every p_event. */
describe('protocol requests (sections 2 and 3)', () => {
  let s: Running;
  before(async () => { s = await startServer(); });
  after(async () => { await s.server.close(); });

  const get = (fields: Record<string, string>) => http(`${s.srv}?${qs(fields)}`);

  describe('errors (section 2)', () => {
    for (const [what, fields, message] of [
      ['no p_event', { p_id: 'x' }, 'No eventType specified'],
      ['an empty p_event', { p_event: '', p_id: 'x' }, 'No eventType specified'],
      ['no p_id', { p_event: 'hb' }, 'No id specified'],
      ['an unknown p_id', { p_event: 'hb', p_id: 'no-such-session' }, 'Invalid or expired id: no-such-session'],
      ['an unknown p_format on join', { p_event: 'join', p_format: 'foo' }, 'Unsupported p_format: foo'],
    ] as const) {
      it(`answers ${what} with 400 and the reason as text`, async () => {
        const r = await get(fields);
        expect(r.status).to.equal(400);
        expect(r.headers['content-type']).to.equal('text/plain; charset=UTF-8');
        expect(r.text.trim()).to.equal(message);
      });
    }

    it('answers an unknown p_mode with 400', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const { reply } = await c.send({ p_event: 'listen', p_id: c.id, p_mode: 'push' });
      expect(reply.status).to.equal(400);
      expect(reply.text.trim()).to.equal('Unsupported p_mode: push');
    });

    it('answers a malformed POSTed event with 400 and a reason, and keeps serving', async () => {
      const r = await http(s.srv, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/xml' } });
      expect(r.status).to.equal(400);
      expect(r.text).to.match(/Malformed XML event/);
      expect((await get({ p_event: 'join', p_format: 'xml' })).status).to.equal(200);
    });

    it('answers a too large body with 413', async () => {
      const r = await http(s.srv, { method: 'POST', body: `<event v="${'x'.repeat(1024 * 1024 + 10)}"/>` });
      expect(r.status).to.equal(413);
      expect(r.text).to.match(/larger than/);
    });
  });

  describe('join', () => {
    it('creates a session with a generated id; the default format is js', async () => {
      const r = await get({ p_event: 'join' });
      expect(r.headers['content-type']).to.equal('text/html;charset=UTF-8');
      expect(r.text).to.match(/parent\.push\(.*'p_event', "join-ack"/);
      expect(r.text).to.match(/'p_format', "js"/);
      expect(r.text).to.match(/'p_id', "[0-9a-f-]{36}"/);
    });

    it('returns p_id and p_format in the join-ack', async () => {
      const c = new TestClient(s.srv);
      const ack = await c.join();
      expect(ack).to.include({ p_event: 'join-ack', p_format: 'xml' });
      expect(ack.p_time).to.match(/^\d{10}$/);
      expect(c.id).to.be.a('string').and.not.equal('');
    });

    it('serves every path ending in /pushlet.srv', async () => {
      for (const path of ['/pushlet.srv', '/ctx/pushlet.srv', '/a/b/c/pushlet.srv']) {
        const r = await http(`${s.base}${path}?p_event=join&p_format=xml`);
        expect(r.status, path).to.equal(200);
        expect(r.text).to.include('join-ack');
      }
    });

    it('accepts a POSTed XML event', async () => {
      const r = await http(s.srv, { method: 'POST', body: '<event p_event="join" p_format="xml"/>' });
      expect(r.text).to.match(/^<event .*p_event="join-ack"/);
    });
  });

  describe('subscribe and unsubscribe', () => {
    let c: TestClient;
    beforeEach(async () => { c = new TestClient(s.srv); await c.join(); });

    it('subscribe answers p_sid = the subject string, with the label', async () => {
      const [ack] = await c.event('subscribe', { p_subject: '/t/d,/t/e', p_label: 'L' });
      expect(ack).to.include({ p_event: 'subscribe-ack', p_id: c.id, p_subject: '/t/d,/t/e', p_sid: '/t/d,/t/e', p_label: 'L' });
    });

    it('subscribe without subject answers nack "no subject provided"', async () => {
      const [nack] = await c.event('subscribe');
      expect(nack).to.include({ p_event: 'nack', p_id: c.id, p_reason: 'no subject provided' });
    });

    it('unsubscribe by p_sid answers the subscription; an unknown sid gets a nack', async () => {
      await c.event('subscribe', { p_subject: '/t/c', p_label: 'lbl-c' });
      const [ack] = await c.event('unsubscribe', { p_sid: '/t/c' });
      expect(ack).to.include({ p_event: 'unsubscribe-ack', p_id: c.id, p_sid: '/t/c', p_subject: '/t/c', p_label: 'lbl-c' });
      const [nack] = await c.event('unsubscribe', { p_sid: '/t/c' });
      expect(nack).to.include({ p_event: 'nack', p_reason: 'no subscription for sid=/t/c' });
    });

    it('unsubscribe without p_sid removes all subscriptions', async () => {
      await c.event('listen', { p_mode: 'pull' });
      await c.event('subscribe', { p_subject: '/u/1' });
      await c.event('subscribe', { p_subject: '/u/2' });
      const [ack] = await c.event('unsubscribe');
      expect(ack).to.deep.include({ p_event: 'unsubscribe-ack', p_id: c.id });
      expect(ack).to.not.have.property('p_sid');
      const p = new TestClient(s.srv);
      await p.join();
      await p.event('publish', { p_subject: '/u/1' });
      await p.event('publish', { p_subject: '/u/2' });
      expect(await c.refresh()).to.deep.equal([]);
    });

    it('subscribing twice to the same string is one subscription', async () => {
      await c.event('listen', { p_mode: 'pull', p_subject: '/twice' });
      await c.event('subscribe', { p_subject: '/twice' });
      await c.event('publish', { p_subject: '/twice' });
      expect(await c.refresh()).to.have.length(1);
    });
  });

  describe('publish', () => {
    it('delivers all request fields plus p_from, p_sid, p_seq; answers publish-ack without p_id', async () => {
      const r = await new TestClient(s.srv).joinPull('/pub/a');
      const p = new TestClient(s.srv);
      await p.join();
      const [ack] = await p.event('publish', { p_subject: '/pub/a', k: 'v', ts: '1234567890123' });
      expect(ack.p_event).to.equal('publish-ack');
      expect(ack).to.not.have.property('p_id');
      const [d] = await r.refresh();
      expect(d).to.include({ p_event: 'data', p_subject: '/pub/a', p_from: p.id, p_id: p.id, p_sid: '/pub/a', p_seq: '1', k: 'v', ts: '1234567890123' });
    });

    it('never lets a publisher set p_sid, p_seq, p_label or p_from (E04); p_time may come from it', async () => {
      const r = await new TestClient(s.srv).joinPull('/lab');
      const p = new TestClient(s.srv);
      await p.join();
      await p.event('publish', { p_subject: '/lab', p_time: '42', p_from: 'spoof', p_seq: '99', p_sid: 'zz', p_label: 'fake' });
      const [d] = await r.refresh();
      expect(d).to.include({ p_time: '42', p_from: p.id, p_seq: '1', p_sid: '/lab' });
      expect(d).to.not.have.property('p_label');
    });

    it('puts each receiver\'s own label on its copy (DIFF of the p_label bug)', async () => {
      const a = new TestClient(s.srv);
      await a.join();
      await a.event('listen', { p_mode: 'pull', p_subject: '/labelled', p_label: 'L1' });
      const b = new TestClient(s.srv);
      await b.join();
      await b.event('listen', { p_mode: 'pull', p_subject: '/labelled', p_label: 'L2' });
      const c = await new TestClient(s.srv).joinPull('/labelled');
      await a.event('publish', { p_subject: '/labelled' });
      expect((await a.refresh())[0].p_label).to.equal('L1');
      expect((await b.refresh())[0].p_label).to.equal('L2');
      expect((await c.refresh())[0]).to.not.have.property('p_label');
    });

    it('matches a subscription of several subjects on each of them', async () => {
      const r = await new TestClient(s.srv).joinPull('/m/d,/m/e');
      await r.event('publish', { p_subject: '/m/e' });
      const [d] = await r.refresh();
      expect(d).to.include({ p_subject: '/m/e', p_sid: '/m/d,/m/e' });
    });

    it('matches by prefix by default (/pre receives /pre/x)', async () => {
      const r = await new TestClient(s.srv).joinPull('/pre');
      await r.event('publish', { p_subject: '/pre/x' });
      expect((await r.refresh())[0]).to.include({ p_subject: '/pre/x', p_sid: '/pre' });
    });

    it('publish without subject answers nack "no subject provided"', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const [nack] = await c.event('publish');
      expect(nack).to.include({ p_event: 'nack', p_reason: 'no subject provided', p_id: c.id });
    });

    it('unicast with p_to reaches that session only, carrying p_to and no p_sid', async () => {
      const target = await new TestClient(s.srv).joinPull('/uni');
      const other = await new TestClient(s.srv).joinPull('/uni');
      await other.event('publish', { p_subject: '/uni', p_to: target.id, k: 'u' });
      const [d] = await target.refresh();
      expect(d).to.include({ p_to: target.id, k: 'u', p_from: other.id });
      expect(d).to.not.have.property('p_sid');
      expect(await other.refresh()).to.deep.equal([]);
    });

    it('unicast to an unknown session still answers publish-ack', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const [ack] = await c.event('publish', { p_subject: '/x', p_to: 'nobody-here' });
      expect(ack.p_event).to.equal('publish-ack');
    });

    it('publish_to_online marks the event and skips sessions that are away (E12)', async () => {
      const away = new TestClient(s.srv);
      await away.joinPull('/pto', { p_id: `pers-${Date.now()}` });
      await away.event('leave');
      const here = await new TestClient(s.srv).joinPull('/pto');
      const p = new TestClient(s.srv);
      await p.join();
      await p.event('publish_to_online', { p_subject: '/pto', k: 'online' });
      await p.event('publish', { p_subject: '/pto', k: 'normal' });
      const got = await here.refresh();
      expect(got.map((e) => e.k)).to.deep.equal(['online', 'normal']);
      expect(got[0].publish_to_online).to.equal('true');
      await away.join({ p_id: away.id });
      expect((await away.refresh()).map((e) => e.k)).to.deep.equal(['normal']);
    });
  });

  describe('hb, leave, unknown events', () => {
    it('hb answers hb-ack', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const [ack] = await c.event('hb');
      expect(ack.p_event).to.equal('hb-ack');
    });

    it('leave answers leave-ack; the temporary id is then invalid', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const [ack] = await c.event('leave');
      expect(ack).to.include({ p_event: 'leave-ack', p_id: c.id });
      const { reply } = await c.send({ p_event: 'hb', p_id: c.id });
      expect(reply.status).to.equal(400);
      expect(reply.text.trim()).to.equal(`Invalid or expired id: ${c.id}`);
    });

    it('an unknown p_event answers nack and keeps the session (DIFF)', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const [nack] = await c.event('bogus');
      expect(nack).to.include({ p_event: 'nack', p_id: c.id, p_reason: 'unknown event type: bogus' });
      expect((await c.event('hb'))[0].p_event).to.equal('hb-ack');
    });

    it('refresh before listen is a pull listen without subject (DIFF)', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      const events: Ev[] = await c.event('refresh');
      expect(events.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'hb', 'refresh']);
    });
  });
});
