import { expect } from 'chai';
import { intervalSource } from '../../src/core/sources';
import { createServer } from '../../src/index';
import { sleep, TestClient } from '../support/client';
import { startServer, storeOverrides } from '../support/server';

describe('server-side event sources', () => {
  it('runs a source and delivers what it publishes', async () => {
    let n = 0;
    const s = await startServer({}, { sources: [intervalSource('counter', '/src/count', 30, () => ({ n: String(++n) }))] });
    try {
      const c = await new TestClient(s.srv).joinPull('/src/count');
      await sleep(150);
      const got = await c.refresh();
      expect(got.length).to.be.at.least(2);
      expect(got[0]).to.include({ p_event: 'data', p_subject: '/src/count' });
      expect(Number(got[1].n)).to.equal(Number(got[0].n) + 1);
    } finally { await s.server.close(); }
  });

  it('starts the built-in ping source with sources.activate=true', async () => {
    const s = await startServer({ 'sources.activate': true, 'sources.list': 'ping, ticker' });
    try {
      const text = (await (await fetch(`${s.base}/metrics`)).text());
      expect(text).to.match(/^pushlet_sources_active 2$/m);
    } finally { await s.server.close(); }
  });

  it('refuses an unknown source name at start, naming the setting', () => {
    expect(() => createServer({ env: {}, overrides: { 'log.level': 0, 'sources.activate': true, 'sources.list': 'nosuch' } }))
      .to.throw(/sources\.list: 'nosuch' is neither a built-in source/);
  });

  it('runs each source on exactly one node of a cluster, and moves it when that node stops', async () => {
    const name = `one-node-${Date.now()}`;
    const make = () => [intervalSource(name, '/src/one', 1000, () => ({}))];
    const a = await startServer({ 'sources.lease.millis': 300 }, { sources: make() });
    const b = await startServer({ 'sources.lease.millis': 300 }, { sources: make() });
    const active = async (base: string) => /^pushlet_sources_active (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())![1];
    try {
      if (!storeOverrides()['redis.url']) {
        // Embedded store: each process is a cluster of its own, so each runs the source.
        expect([await active(a.base), await active(b.base)]).to.deep.equal(['1', '1']);
        return;
      }
      expect([await active(a.base), await active(b.base)]).to.deep.equal(['1', '0']);
      await a.server.close();
      await sleep(500);
      expect(await active(b.base)).to.equal('1');
    } finally {
      await a.server.close();
      await b.server.close();
    }
  });
});
