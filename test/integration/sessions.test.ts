import { expect } from 'chai';
import { sleep, TestClient } from '../support/client';
import { startServer, type Running } from '../support/server';

/** docs/PROTOCOL.md section 4: persistent sessions, leases and aging, queue capacity. */
describe('sessions (section 4)', () => {
  describe('persistent sessions', () => {
    let s: Running;
    before(async () => { s = await startServer(); });
    after(async () => { await s.server.close(); });

    it('keep subscriptions and queue over leave; the id stays valid; re-join finds them', async () => {
      const id = `persist-${Date.now()}`;
      const c = await new TestClient(s.srv).joinPull('/ps', { p_id: id });
      expect(c.id).to.equal(id);
      await c.event('leave');
      const p = new TestClient(s.srv);
      await p.join();
      await p.event('publish', { p_subject: '/ps', n: 'while-away' });
      expect((await c.event('hb'))[0].p_event, 'a left persistent id is still served').to.equal('hb-ack');
      const ack = await c.join({ p_id: id });
      expect(ack).to.include({ p_id: id, p_event: 'join-ack' });
      expect((await c.refresh()).map((e) => e.n)).to.deep.equal(['while-away']);
    });

    it('generates random-string ids when session.id.generation=randomstring', async () => {
      const r = await startServer({ 'session.id.generation': 'randomstring', 'session.id.size': 8 });
      try {
        const c = new TestClient(r.srv);
        await c.join();
        expect(c.id).to.match(/^([bcdfghjklmnpqrstvwxyz][aeiou]){4}$/);
      } finally { await r.server.close(); }
    });
  });

  describe('leases and aging', () => {
    let s: Running;
    // Margins are wide so that a loaded machine cannot make a renewed lease run out.
    before(async () => { s = await startServer({ 'session.lease.millis': 800, 'session.aging.interval.millis': 50 }); });
    after(async () => { await s.server.close(); });

    it('expires a temporary session whose lease ran out', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      await sleep(1100);
      const { reply } = await c.send({ p_event: 'hb', p_id: c.id });
      expect(reply.status).to.equal(400);
    });

    it('keeps a session alive while requests renew its lease', async () => {
      const c = new TestClient(s.srv);
      await c.join();
      for (let i = 0; i < 5; i++) {
        await sleep(250);
        expect((await c.event('hb'))[0].p_event).to.equal('hb-ack');
      }
    });

    it('keeps an expired persistent session, offline, with its queue', async () => {
      const id = `aging-${Date.now()}`;
      const c = await new TestClient(s.srv).joinPull('/aging', { p_id: id });
      await sleep(1100);
      const p = new TestClient(s.srv);
      await p.join();
      await p.event('publish_to_online', { p_subject: '/aging', n: 'online-only' });
      await p.event('publish', { p_subject: '/aging', n: 'kept' });
      expect((await c.refresh()).map((e) => e.n)).to.deep.equal(['kept']);
    });
  });

  describe('queue capacity', () => {
    let s: Running;
    before(async () => { s = await startServer({ 'queue.size': 3, 'queue.write.timeout.millis': 400 }); });
    after(async () => { await s.server.close(); });

    it('a publish never waits on a full queue; held events arrive once the client makes room', async () => {
      const c = await new TestClient(s.srv).joinPull('/full');
      const p = new TestClient(s.srv);
      await p.join();
      const t0 = Date.now();
      for (let n = 1; n <= 5; n++) await p.event('publish', { p_subject: '/full', n: String(n) });
      expect(Date.now() - t0, 'five publishes to a full queue').to.be.below(300);
      expect((await c.refresh()).map((e) => e.n)).to.deep.equal(['1', '2', '3']);
      await sleep(100);
      expect((await c.refresh()).map((e) => e.n)).to.deep.equal(['4', '5']);
    });

    it('stops a session whose queue stays full for queue.write.timeout.millis, others unaffected', async () => {
      const slow = await new TestClient(s.srv).joinPull('/full2');
      const fast = await new TestClient(s.srv).joinPull('/full2');
      for (let n = 1; n <= 4; n++) {
        await fast.event('publish', { p_subject: '/full2', n: String(n) });
        if (n === 2) expect((await fast.refresh()).map((e) => e.n)).to.deep.equal(['1', '2']);
      }
      await sleep(700);
      const { reply } = await slow.send({ p_event: 'hb', p_id: slow.id });
      expect(reply.status, 'the stalled session was stopped').to.equal(400);
      expect((await fast.refresh()).map((e) => e.n)).to.deep.equal(['3', '4']);
    });
  });
});
