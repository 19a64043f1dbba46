import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { http, parseXmlEvents, qs, stream } from '../support/client';
import { migratingBlock, startNginx, type Nginx } from './nginx';
import { launchBrowser, startSite, type Site } from './site';

/** A proxy that moves everything, the endpoint too: the server sees `/pushlet/pushlet.srv`. */
const MOVE_ALL = `
location ^~ /other/ {
    proxy_pass http://pushlet_nodes/pushlet/;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffering off;
    proxy_read_timeout 1h;
}`;

/** An AJAX page that counts refresh cycles and records data and errors. */
const page = (setup = '') => `<!DOCTYPE html><meta charset="utf-8"><script src="lib/ajax-pushlet-client.js"></script>
<script>
  ${setup}
  window.got = { data: [], errors: [], refreshes: 0 };
  function onData(e) { got.data.push(e.get('msg')); }
  function onError(message) { got.errors.push(String(message)); }
  function onNack(e) { got.errors.push(e.get('p_reason')); }
  function onRefresh() { got.refreshes++; }
</script>`;

const PAGES = {
  'bound.html': page(),
  // The endpoint at a path of the page's own choosing, as pages of an app mounted elsewhere do.
  'myapp.html': page("PL.pushletURL = '/myapp/pushlet.srv';"),
};

describe('behind nginx, with the block of docs/MIGRATING.md', function () {
  this.timeout(60_000);
  let site: Site;
  let nginx: Nginx;
  let browser: Browser;

  before(async () => {
    site = await startSite(PAGES, { 'session.bind': 'cookie', 'session.bind.secret': 'test-secret', 'proxy.trust': '127.0.0.1' });
    nginx = await startNginx(new URL(site.base).host, migratingBlock() + MOVE_ALL);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await site?.close();
  });

  it('serves the pages under /legacy/, and streams each event through it as it is published', async () => {
    const pageThere = await http(`${nginx.base}/legacy/bound.html`);
    expect(pageThere.status).to.equal(200);
    expect((await http(`${nginx.base}/legacy/lib/ajax-pushlet-client.js`)).text).to.include('window.Xparse');

    const srv = `${nginx.base}/legacy/pushlet.srv`;
    const join = await http(`${srv}?p_event=join&p_format=xml`);
    const id = parseXmlEvents(join.text)[0].p_id;
    const cookie = String(join.headers['set-cookie']).split(';')[0];
    const headers = { cookie };
    await http(`${srv}?${qs({ p_event: 'subscribe', p_id: id, p_subject: '/proxy/stream' })}`, { headers });
    // The stream stays open: each event must come through while it does, not when it ends.
    const t0 = Date.now();
    const open = await stream(`${srv}?${qs({ p_event: 'listen', p_id: id, p_mode: 'stream' })}`, (t) => t.includes('msg="through nginx"'), 5000, () => {
      void http(`${site.srv}?${qs({ p_event: 'publish', p_id: id, p_subject: '/proxy/stream', msg: 'through nginx' })}`, { headers });
    }, headers);
    expect(open.completed, open.text).to.equal(true);
    expect(Date.now() - t0).to.be.below(3000);
  });

  for (const [where, url] of [
    ['under /legacy/ (the endpoint passed on as it is)', (n: Nginx) => `${n.base}/legacy/bound.html`],
    ['under /other/ (the endpoint moved too)', (n: Nginx) => `${n.base}/other/bound.html`],
    ['direct, with the endpoint at /myapp/pushlet.srv', () => `${site.base}/pushlet/myapp.html`],
  ] as const) {
    it(`session.bind=cookie in Chromium: a page ${where} keeps its session through refreshes and publishes`, async () => {
      const p = await browser.newPage();
      p.on('pageerror', (err) => {
        throw err;
      });
      try {
        await p.goto(url(nginx));
        await p.evaluate("PL.joinListen('/proxy/bound')");
        await p.waitForFunction('PL.state === 3 && !!PL.sessionId', undefined, { timeout: 10_000, polling: 50 });
        await p.evaluate("p_publish('/proxy/bound', 'msg', 'mine')");
        await p.waitForFunction('got.data.indexOf("mine") >= 0 && got.refreshes >= 3 || got.errors.length > 0', undefined, { timeout: 20_000, polling: 50 });
        expect(await p.evaluate('got.errors')).to.deep.equal([]);
        expect(await p.evaluate('PL.state')).to.equal(3);
      } finally {
        await p.close();
      }
    });
  }
});
