import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { http } from '../support/client';
import { launchBrowser, startSite, type Site } from './site';

/** Every event a page hears: onData, onError, and the rest through the onEvent catch-all. */
const RECORDER = `<script>
  window.got = { data: [], errors: [], events: [] };
  function onData(e) { got.data.push(e.arr); }
  function onError(message) { got.errors.push(String(message)); }
  function onEvent(e) { got.events.push(e.arr); }
</script>`;

const SPECIAL = '你好 <b>bold</b> "dq" \'sq\' & amp \\ backslash\nline2 </x> end';

/** How a test drives one bundled client inside a page (expressions run in the page). */
interface Client {
  name: string;
  page: string;
  joinListen(subject: string, id?: string): string;
  subscribe(subject: string): string;
  unsubscribe(sid: string): string;
  leave: string;
  sessionId: string;
  state: string;
  /** Makes `PL.autoReconnect` available to the test when the client has it. */
  reconnects: boolean;
}

const ajaxApi = (name: string, page: string): Client => ({
  name,
  page,
  joinListen: (subject, id) => `PL.joinListen(${JSON.stringify(subject)}${id ? ', ' + JSON.stringify(id) : ''})`,
  subscribe: (subject) => `PL.subscribe(${JSON.stringify(subject)})`,
  unsubscribe: (sid) => `PL.unsubscribe(${JSON.stringify(sid)})`,
  leave: 'PL.leave()',
  sessionId: 'PL.sessionId',
  state: 'PL.state',
  reconnects: true,
});

const CLIENTS: Client[] = [
  ajaxApi('AJAX xml-strict', 'ajax.html'),
  ajaxApi('AJAX json', 'json.html'),
  {
    name: 'JS streaming',
    page: 'stream.html',
    joinListen: (subject, id) =>
      id ? `p_join(${JSON.stringify(id)}); p_listen(${JSON.stringify(subject)})` : `p_join_listen(${JSON.stringify(subject)})`,
    subscribe: (subject) => `p_subscribe(${JSON.stringify(subject)})`,
    unsubscribe: (sid) => `p_unsubscribe(${JSON.stringify(sid)})`,
    leave: 'p_leave()',
    sessionId: 'p_getSessionId()',
    state: 'PushletJS.state',
    reconnects: false,
  },
];

/** The test pages, as an old web application's folder would hold them. */
const PAGES: Record<string, string> = {
  'ajax.html': `<!DOCTYPE html><meta charset="utf-8"><script src="lib/ajax-pushlet-client.js"></script>${RECORDER}`,
  // Through the js/ alias, as pages that keep the client beside them.
  'json.html': `<!DOCTYPE html><meta charset="utf-8"><script src="js/ajax-pushlet-client-json.js"></script>${RECORDER}`,
  'stream.html': `<!DOCTYPE html><meta charset="utf-8"><script src="lib/js-pushlet-client.js"></script>
    <script>p_embed();</script>${RECORDER}`,
  // A page that never calls p_embed(): the net frame is added on first use.
  'stream-late.html': `<!DOCTYPE html><meta charset="utf-8"><script src="lib/js-pushlet-client.js"></script>${RECORDER}`,
};

type Fields = Record<string, string>;

/** `p_publish(subject, name1, value1, ...)`, the call all three clients share. */
const publish = (subject: string, fields: Fields) =>
  `p_publish(${[subject, ...Object.entries(fields).flat()].map((s) => JSON.stringify(s)).join(', ')})`;

async function run(page: Page, js: string): Promise<void> {
  await page.evaluate(js);
}

/** Waits for a data event whose `key` is `value`, and returns its fields. */
async function dataWith(page: Page, key: string, value: string, timeout = 10000): Promise<Fields> {
  const find = `got.data.filter(function (d) { return d[${JSON.stringify(key)}] === ${JSON.stringify(value)}; })[0]`;
  await page.waitForFunction(`!!${find}`, undefined, { timeout, polling: 50 });
  return page.evaluate(find) as Promise<Fields>;
}

/** Waits for an event (other than data) of type `type`, and returns the latest one. */
async function eventOf(page: Page, type: string, timeout = 10000): Promise<Fields> {
  const find = `got.events.filter(function (e) { return e.p_event === ${JSON.stringify(type)}; }).pop()`;
  await page.waitForFunction(`!!${find}`, undefined, { timeout, polling: 50 });
  return page.evaluate(find) as Promise<Fields>;
}

async function open(browser: Browser, site: Site, client: Client): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.goto(`${site.base}/pushlet/${client.page}`);
  return page;
}

async function joined(page: Page, client: Client, subject: string, id?: string): Promise<string> {
  await run(page, client.joinListen(subject, id));
  await page.waitForFunction(`${client.state} === 3 && !!${client.sessionId}`, undefined, { timeout: 10000, polling: 50 });
  return (await page.evaluate(client.sessionId)) as string;
}

describe('bundled browser clients in Chromium', function () {
  this.timeout(60000);
  let browser: Browser;
  let site: Site;

  before(async () => {
    browser = await launchBrowser();
    site = await startSite(PAGES);
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  for (const client of CLIENTS) {
    describe(client.name, () => {
      let a: Page;
      let b: Page;
      beforeEach(async () => {
        a = await open(browser, site, client);
        b = await open(browser, site, client);
      });
      afterEach(async () => {
        await a.close();
        await b.close();
      });

      it('join-listens, publishes, and delivers data with the right fields', async () => {
        const idA = await joined(a, client, '/t/chat');
        const idB = await joined(b, client, '/t/other');
        expect(idA).to.not.equal(idB);
        await run(b, publish('/t/chat', { nick: 'bob', msg: 'hello' }));
        const d = await dataWith(a, 'msg', 'hello');
        expect(d).to.include({ p_event: 'data', p_subject: '/t/chat', p_from: idB, p_sid: '/t/chat', nick: 'bob' });
        expect(await b.evaluate('got.data.length')).to.equal(0);
        const ack = await eventOf(b, 'publish-ack');
        expect(ack).to.have.property('p_time');
      });

      it('round-trips special characters exactly', async () => {
        await joined(a, client, '/t/special');
        await joined(b, client, '/t/none');
        await run(b, publish('/t/special', { txt: SPECIAL, tag: 'special' }));
        const d = await dataWith(a, 'tag', 'special');
        expect(d.txt).to.equal(SPECIAL);
      });

      it('unicasts to a session with a fixed p_id', async () => {
        const fixed = `fixed-${client.page}-${Date.now()}`;
        expect(await joined(a, client, '/t/uni-a', fixed)).to.equal(fixed);
        await joined(b, client, '/t/uni-b');
        await run(b, publish('/t/anything', { p_to: fixed, msg: 'just you' }));
        const d = await dataWith(a, 'msg', 'just you');
        expect(d).to.include({ p_to: fixed, p_event: 'data' });
        expect(d).to.not.have.property('p_sid');
      });

      it('unsubscribes by p_sid', async () => {
        await joined(a, client, '/t/main');
        await joined(b, client, '/t/none');
        await run(a, client.subscribe('/t/extra'));
        expect(await eventOf(a, 'subscribe-ack')).to.include({ p_sid: '/t/extra', p_subject: '/t/extra' });
        await run(b, publish('/t/extra', { n: '1' }));
        expect(await dataWith(a, 'n', '1')).to.include({ p_sid: '/t/extra' });
        await run(a, client.unsubscribe('/t/extra'));
        expect(await eventOf(a, 'unsubscribe-ack')).to.include({ p_sid: '/t/extra' });
        await run(b, publish('/t/extra', { n: '2' }));
        await run(b, publish('/t/main', { n: 'marker' }));
        await dataWith(a, 'n', 'marker');
        expect(await a.evaluate('got.data.map(function (d) { return d.n; })')).to.deep.equal(['1', 'marker']);
      });

      it('answers a nack for an unknown p_sid through onEvent', async () => {
        await joined(a, client, '/t/main');
        await run(a, client.unsubscribe('/t/never'));
        expect((await eventOf(a, 'nack')).p_reason).to.equal('no subscription for sid=/t/never');
      });

      it('leaves: the session ends and the client stops asking', async () => {
        const id = await joined(a, client, '/t/leave');
        await run(a, client.leave);
        expect(await eventOf(a, 'leave-ack')).to.include({ p_id: id });
        expect(await a.evaluate(client.state)).to.equal(2);
        expect(await a.evaluate(client.sessionId)).to.equal(null);
        const asked: string[] = [];
        a.on('request', (r) => {
          if (r.url().includes('pushlet.srv')) asked.push(r.url());
        });
        await new Promise((r) => setTimeout(r, 1500));
        expect(asked).to.deep.equal([]);
        expect((await http(`${site.srv}?p_event=hb&p_id=${encodeURIComponent(id)}`)).status).to.equal(400);
        expect(await a.evaluate('got.errors')).to.deep.equal([]);
      });

      it('calls the specific callback rather than onEvent when the page has one', async () => {
        await run(a, 'window.acks = []; window.onJoinListenAck = function (e) { acks.push(e.get("p_id")); }');
        const id = await joined(a, client, '/t/cb');
        await a.waitForFunction('acks.length === 1', undefined, { polling: 50 });
        expect(await a.evaluate('acks[0]')).to.equal(id);
        expect(await a.evaluate('got.events.filter(function (e) { return e.p_event === "join-listen-ack"; }).length')).to.equal(0);
      });
    });
  }

  it('Xparse returns the legacy tree and decodes only the five entities', async () => {
    const page = await open(browser, site, CLIENTS[0]);
    const tree = await page.evaluate(`Xparse('<?xml version="1.0"?><pushlet><event a="&amp;&lt;&gt;&quot;&apos;&#039;" b=\\'x\\ny\\' /><!-- c --></pushlet>')`);
    expect(tree).to.deep.equal({
      type: 'element', name: 'ROOT', attributes: {}, contents: [{
        type: 'element', name: 'pushlet', attributes: {}, contents: [
          { type: 'element', name: 'event', attributes: { a: '&<>"\'&#039;', b: 'x\ny' }, contents: [] },
        ],
      }],
    });
    expect(await page.evaluate(`(function () { try { Xparse('<a><b></a>'); return 'parsed'; } catch (e) { return e.message; } })()`)).to.match(/unexpected <\/a>/);
    await page.close();
  });

  it('AJAX: a pushletURL set by the page wins over the one derived from the script', async () => {
    const page = await open(browser, site, CLIENTS[0]);
    const asked: string[] = [];
    page.on('request', (r) => asked.push(new URL(r.url()).pathname));
    await run(page, "PL.pushletURL = '/elsewhere/app/pushlet.srv'");
    await joined(page, CLIENTS[0], '/t/elsewhere');
    expect(asked).to.include('/elsewhere/app/pushlet.srv').and.not.include('/pushlet/pushlet.srv');
    expect(await page.evaluate('PL.webRoot')).to.equal(`${site.base}/pushlet/`);
    await page.close();
  });

  it('JS streaming: works without p_embed() and derives the web root from the script', async () => {
    const client = { ...CLIENTS[2], page: 'stream-late.html' };
    const a = await open(browser, site, client);
    const b = await open(browser, site, CLIENTS[2]);
    const idA = await joined(a, client, '/t/late');
    expect(await a.evaluate('p_getWebRoot()')).to.equal(`${site.base}/pushlet/`);
    await joined(b, CLIENTS[2], '/t/none');
    await run(b, publish('/t/late', { msg: 'late' }));
    expect(await dataWith(a, 'msg', 'late')).to.not.have.property('p_to');
    expect(await site.server.unicast(idA, { msg: 'direct' })).to.equal(1);
    expect(await dataWith(a, 'msg', 'direct')).to.include({ p_to: idA });
    await a.close();
    await b.close();
  });

  for (const client of CLIENTS.filter((c) => c.reconnects)) {
    it(`${client.name}: PL.autoReconnect rejoins and resubscribes`, async () => {
      const page = await open(browser, site, client);
      await run(page, 'PL.autoReconnect = true');
      const extra = `/rc-extra/${client.page}`;
      const listened = `/rc/${client.page}`;
      const first = await joined(page, client, listened);
      await run(page, client.subscribe(extra));
      await eventOf(page, 'subscribe-ack');
      // The server ends the session: a held refresh gets `abort`, a later one a 400 (onError).
      expect((await http(`${site.srv}?p_event=leave&p_id=${encodeURIComponent(first)}`)).status).to.equal(200);
      await page.waitForFunction(
        'got.errors.length > 0 || got.events.some(function (e) { return e.p_event === "abort"; })',
        undefined,
        { timeout: 10000, polling: 50 },
      );
      await page.waitForFunction(`PL.state === 3 && PL.sessionId !== ${JSON.stringify(first)}`, undefined, { timeout: 10000, polling: 50 });
      const second = (await page.evaluate(client.sessionId)) as string;
      // The restored subscription is in place once its ack came back on the new session.
      await page.waitForFunction(
        `got.events.some(function (e) { return e.p_event === 'subscribe-ack' && e.p_id === ${JSON.stringify(second)}; })`,
        undefined,
        { timeout: 10000, polling: 50 },
      );
      expect(await site.server.publish(extra, { n: 'again' })).to.equal(1);
      expect(await dataWith(page, 'n', 'again')).to.include({ p_sid: extra });
      expect(await site.server.publish(listened, { n: 'listened' })).to.equal(1);
      expect(await dataWith(page, 'n', 'listened')).to.include({ p_sid: listened });
      await page.close();
    });
  }
});

describe('bundled browser clients when the session expires', function () {
  this.timeout(60000);
  let browser: Browser;
  let site: Site;

  before(async () => {
    browser = await launchBrowser();
    // The client waits longer between refreshes than the lease lasts, so aging ends its session.
    site = await startSite(PAGES, {
      'session.lease.millis': 600,
      'session.aging.interval.millis': 100,
      'pull.refresh.wait.min.millis': 1500,
      'pull.refresh.wait.max.millis': 1500,
      'queue.read.timeout.millis': 100,
    });
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  for (const client of CLIENTS) {
    it(`${client.name}: onError and PL state -2`, async () => {
      const page = await open(browser, site, client);
      await joined(page, client, '/t/expire');
      await page.waitForFunction('got.errors.length > 0', undefined, { timeout: 10000, polling: 50 });
      expect(await page.evaluate(client.state)).to.equal(-2);
      expect(await page.evaluate('got.errors[0]')).to.match(/400|expired/i);
      await page.close();
    });
  }
});

describe('JS-streaming client in stream mode', function () {
  this.timeout(30000);
  let browser: Browser;
  let site: Site;

  before(async () => {
    browser = await launchBrowser();
    // Chromium's User-Agent says Safari, which the default settings force to pull.
    site = await startSite(PAGES, { 'listen.force.pull.agents': 'no-such-agent' });
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('receives events on one held response', async () => {
    const client = CLIENTS[2];
    const page = await open(browser, site, client);
    const listens: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('pushlet.srv?p_event=join-listen') || r.url().includes('p_event=refresh')) listens.push(r.url());
    });
    await joined(page, client, '/t/stream');
    expect(await eventOf(page, 'join-listen-ack')).to.include({ p_mode: 'stream' });
    for (const n of ['1', '2', '3']) {
      await site.server.publish('/t/stream', { n, txt: SPECIAL });
      expect(await dataWith(page, 'n', n)).to.include({ txt: SPECIAL });
    }
    // Heartbeats arrive on the same response (queue.read.timeout.millis is 1 s in these tests).
    await page.waitForFunction('got.events.filter(function (e) { return e.p_event === "hb"; }).length >= 2', undefined, { timeout: 5000, polling: 50 });
    expect(listens).to.have.length(1);
    expect(await page.evaluate('got.errors')).to.deep.equal([]);
    await page.close();
  });
});
