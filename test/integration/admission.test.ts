/**
 * One client cannot lock the others out: new sessions per address are bounded, and at
 * limit.sessions the sessions that hold nothing are reclaimed, persistent ones included.
 * Clients come from several loopback addresses (127.0.0.2, 127.0.0.3...), as distinct hosts would.
 */
import { expect } from 'chai';
import { request } from 'node:http';
import { loadConfig } from '../../src/config/config';
import { parseXmlEvents, qs, sleep } from '../support/client';
import { isolatedServer as isolated, startServer, type Running } from '../support/server';

/** A GET from the local address `from`; its status and events. */
function getFrom(from: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; events: Record<string, string>[] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, events: res.statusCode === 200 ? parseXmlEvents(text) : [] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admission: no lockout by one client', function () {
  this.timeout(20_000);
  let s: Running | undefined;
  afterEach(async () => { await s?.server.close(); s = undefined; });

  const join = (from: string, f: Record<string, string> = {}) => getFrom(from, `${s!.srv}?${qs({ p_event: 'join', p_format: 'xml', ...f })}`);

  it('refuses a join flood from one address with 429 naming limit.sessions.per.address, while another address joins', async () => {
    s = await isolated({ 'limit.sessions.per.address': 25 });
    const statuses: number[] = [];
    let refusal = '';
    for (let i = 0; i < 40; i++) {
      const r = await join('127.0.0.2');
      statuses.push(r.status);
      if (r.status === 429) refusal = r.text;
    }
    expect(statuses.filter((x) => x === 200)).to.have.length(25);
    expect(statuses.slice(25).every((x) => x === 429), 'every join past the limit').to.equal(true);
    expect(refusal).to.match(/Too many new sessions from 127\.0\.0\.2: at most 25 .*\(limit\.sessions\.per\.address\)/);
    const other = await join('127.0.0.3');
    expect(other.status).to.equal(200);
    expect(other.events[0].p_event).to.equal('join-ack');
    // Persistent joins count too.
    expect((await join('127.0.0.2', { p_id: 'flood-persistent' })).status).to.equal(429);
  });

  it('at limit.sessions, reclaims sessions whose lease ran out, persistent ones included, so another address joins', async () => {
    s = await isolated({ 'limit.sessions': 20, 'session.lease.millis': 700, 'session.aging.interval.millis': 60_000 });
    for (let i = 0; i < 20; i++) expect((await join('127.0.0.2', { p_id: `flood-${i}` })).status, `flood join ${i}`).to.equal(200);
    // All 20 are within their lease: nothing to reclaim yet.
    const full = await join('127.0.0.3');
    expect(full.status).to.equal(429);
    expect(full.text).to.include('(limit.sessions)');
    // One flood session keeps its lease with requests; the others hold nothing.
    const keeper = 'flood-0';
    for (let i = 0; i < 4; i++) {
      await sleep(250);
      expect((await getFrom('127.0.0.2', `${s.srv}?${qs({ p_event: 'hb', p_id: keeper })}`)).status).to.equal(200);
    }
    const later = await join('127.0.0.3');
    expect(later.status, later.text).to.equal(200);
    expect((await getFrom('127.0.0.2', `${s.srv}?${qs({ p_event: 'hb', p_id: keeper })}`)).status, 'the session in use was kept').to.equal(200);
    // A reclaimed persistent session may join again.
    expect((await join('127.0.0.2', { p_id: 'flood-7' })).status).to.equal(200);
  });
});

describe('client address behind proxies (proxy.trust)', () => {
  it('with a list of proxies, takes the right-most forwarded address that is not a proxy, and ignores the header from others', async () => {
    const s = await startServer({ 'proxy.trust': '127.0.0.1,10.0.0.0/8' });
    try {
      const spoofed = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3' };
      const viaProxy = await getFrom('127.0.0.1', `${s.srv}?p_event=join&p_format=xml`, spoofed);
      expect((await s.server.store.getSession(viaProxy.events[0].p_id))?.address).to.equal('203.0.113.9');
      const direct = await getFrom('127.0.0.4', `${s.srv}?p_event=join&p_format=xml`, spoofed);
      expect((await s.server.store.getSession(direct.events[0].p_id))?.address, 'not a proxy: its own address').to.equal('127.0.0.4');
    } finally { await s.server.close(); }
  });

  it('refuses a proxy.trust that is neither true, false nor addresses and ranges', () => {
    for (const bad of ['yes', '10.0.0.0/33', 'true,127.0.0.1', 'proxy.example']) {
      expect(() => loadConfig({ overrides: { 'proxy.trust': bad } }), bad).to.throw(/proxy\.trust: must be true, false, or addresses/);
    }
  });
});
