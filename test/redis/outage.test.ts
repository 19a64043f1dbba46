/**
 * A Redis outage as legacy clients live through it: a pull refresh is answered with a `refresh`
 * (never an error), so a page that only ever follows the last refresh's `p_url` keeps polling
 * and gets what is published once Redis is back, without joining again. Joins and publishes
 * answer 503 naming Redis; the log has one warning and one recovery line.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { RedisStore } from '../../src/store/redis';
import { launchBrowser, startSite, type Site } from '../browser/site';
import { http, parseXmlEvents, qs, TestClient, type Ev } from '../support/client';
import { eventually, recorder, type LogLine } from '../support/log';
import { startServer, type Running } from '../support/server';
import { RedisChild, sleep } from './support';

/** What every server of these tests is told: its private Redis, as beside Java nodes. */
// Aging runs often, so the log check also covers aging passes during the outage.
const node = (child: RedisChild) => ({ 'redis.url': child.url, 'subject.match': 'exact', 'redis.socketto': 1000, 'session.aging.interval.millis': 300 });

/** How long a refresh is held, and how long the outages last. */
const READ_TIMEOUT_MS = 1500;
const OUTAGE_MS = 3000;

/** A fresh private Redis that writes every command to its append-only file. */
const startRedis = () => RedisChild.start(['--appendonly', 'yes', '--appendfsync', 'always']);

const types = (events: Ev[]) => events.map((e) => e.p_event);

/** A line that carries a stack trace: an Error among its fields, or `at ...` frames in its text. */
function hasStack(l: LogLine): boolean {
  const frames = /\n\s+at /;
  if (frames.test(l.msg)) return true;
  return Object.values(l.obj).some((v) => v instanceof Error || (typeof v === 'string' && frames.test(v)) || (typeof v === 'object' && v !== null && 'stack' in v));
}

/** Publishes through `pub` until the server takes it (200), for at most `ms`; the statuses seen. */
async function publishUntilTaken(pub: TestClient, fields: Record<string, string>, ms = 15_000): Promise<number[]> {
  const statuses: number[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const { reply } = await pub.send({ p_event: 'publish', p_id: pub.id, ...fields });
    statuses.push(reply.status);
    if (reply.status === 200) return statuses;
    if (Date.now() > deadline) throw new Error(`publish not taken within ${ms} ms; statuses ${statuses.join(',')}`);
    await sleep(100);
  }
}

describe('Redis outage: legacy clients keep polling', function () {
  this.timeout(40_000);
  let child: RedisChild;

  afterEach(async () => {
    await child?.remove();
  });

  describe('protocol clients', () => {
    let s: Running;
    let log: ReturnType<typeof recorder>;

    beforeEach(async () => {
      child = await startRedis();
      log = recorder();
      s = await startServer(
        { ...node(child), 'queue.read.timeout.millis': READ_TIMEOUT_MS, 'pull.refresh.wait.min.millis': 100, 'pull.refresh.wait.max.millis': 200 },
        { logger: log },
      );
      expect(s.server.store, 'the store redis.url selects').to.be.instanceOf(RedisStore);
    });

    afterEach(async () => {
      await s?.server.close(500);
    });

    it('a pull refresh held when Redis goes down ends with a refresh, and a legacy-style client loop gets the event published after Redis is back, with no re-join', async () => {
      const subject = '/outage/news';
      // The receiver speaks xml-strict, as the AJAX page does.
      const join = parseXmlEvents((await http(`${s.srv}?${qs({ p_event: 'join', p_format: 'xml-strict' })}`)).text, true);
      expect(types(join)).to.deep.equal(['join-ack']);
      const id = join[0].p_id;
      const listen = parseXmlEvents((await http(`${s.srv}?${qs({ p_event: 'listen', p_id: id, p_mode: 'pull', p_subject: subject })}`)).text, true);
      expect(types(listen)).to.deep.equal(['listen-ack', 'refresh']);
      const publisher = new TestClient(s.srv);
      await publisher.join();

      // From here on the receiver only ever follows the last refresh it was given.
      let last = listen[1];
      const follow = async (): Promise<{ status: number; events: Ev[]; url: string }> => {
        const url = `${s.base}${last.p_url}`;
        const reply = await http(url);
        const events = reply.status === 200 ? parseXmlEvents(reply.text, true) : [];
        const refresh = events.filter((e) => e.p_event === 'refresh').pop();
        if (refresh) last = refresh;
        return { status: reply.status, events, url };
      };

      // A refresh held in its wait when Redis goes away.
      const t0 = Date.now();
      const holding = follow();
      await sleep(300);
      await child.stop();
      const held = await holding;
      const heldMs = Date.now() - t0;
      expect(held.status, 'held refresh status').to.equal(200);
      expect(types(held.events), 'held refresh events').to.deep.equal(['refresh-ack', 'hb', 'refresh']);
      expect(heldMs, 'held out its read timeout').to.be.at.least(READ_TIMEOUT_MS - 100);
      expect(held.events[2].p_url).to.match(new RegExp(`\\?p_id=${id}&p_event=refresh$`));

      // The legacy loop: wait p_wait, ask the p_url, repeat; meanwhile Redis comes back and
      // another client publishes.
      const answers: { status: number; types: string[]; down: boolean; url: string }[] = [];
      let down = true;
      let received: Ev | undefined;
      let gaveUp = false;
      const loop = async () => {
        const deadline = Date.now() + 30_000;
        while (!received && !gaveUp) {
          if (Date.now() > deadline) throw new Error(`no event within 30 s; answers: ${JSON.stringify(answers)}`);
          await sleep(Number(last.p_wait));
          const wasDown = down;
          const a = await follow();
          answers.push({ status: a.status, types: types(a.events), down: wasDown, url: a.url });
          // A page stops for good on an answer without a refresh.
          if (a.status !== 200 || a.events[a.events.length - 1]?.p_event !== 'refresh') {
            throw new Error(`answer without a refresh: ${JSON.stringify(answers[answers.length - 1])}`);
          }
          received = a.events.find((e) => e.p_event === 'data' && e.msg === 'after the outage');
        }
      };
      let statuses: number[] = [];
      const outside = async () => {
        await sleep(OUTAGE_MS);
        expect((await publisher.send({ p_event: 'publish', p_id: publisher.id, p_subject: subject, msg: 'lost' })).reply.status, 'publish while down').to.equal(503);
        // Cleared first: an answer to a request made before this was asked while Redis was stopped.
        down = false;
        await child.restart();
        statuses = await publishUntilTaken(publisher, { p_subject: subject, msg: 'after the outage' });
      };
      await Promise.all([loop(), outside().catch((err: unknown) => {
        gaveUp = true;
        throw err;
      })]);

      expect(received).to.include({ p_event: 'data', p_subject: subject, p_from: publisher.id, msg: 'after the outage' });
      expect(statuses[statuses.length - 1]).to.equal(200);
      const duringOutage = answers.filter((a) => a.down);
      // The held answer came ~1.2 s into the outage, which lasted 3 s more: two refreshes at least.
      expect(duringOutage.length, 'answers while Redis was down').to.be.at.least(2);
      for (const a of duringOutage) expect(a.types, 'an answer while down').to.deep.equal(['refresh-ack', 'hb', 'refresh']);
      // Never joined again: only refreshes of the one session, and the server saw two joins in all.
      for (const a of answers) expect(new URL(a.url).searchParams.get('p_event')).to.equal('refresh');
      expect(new Set(answers.map((a) => new URL(a.url).searchParams.get('p_id')))).to.deep.equal(new Set([id]));
      expect(log.lines.filter((l) => l.msg === 'session joined').map((l) => l.obj.session)).to.deep.equal([id, publisher.id]);
    });

    it('join and publish during the outage answer 503 naming Redis and its address, and the log has one warning and one recovery line, no stack', async () => {
      const address = `127.0.0.1:${child.port}`;
      const publisher = new TestClient(s.srv);
      await publisher.join();
      const before = log.lines.length;
      await child.stop();

      const reason = /^Redis at 127\.0\.0\.1:\d+ is unavailable/;
      const joined = await http(`${s.srv}?${qs({ p_event: 'join', p_format: 'xml' })}`);
      expect(joined.status, 'join').to.equal(503);
      expect(joined.text).to.match(reason).and.include(address);
      const listened = await http(`${s.srv}?${qs({ p_event: 'join-listen', p_format: 'xml', p_mode: 'pull', p_subject: '/outage/x' })}`);
      expect(listened.status, 'join-listen').to.equal(503);
      expect(listened.text).to.match(reason);
      const published = await publisher.send({ p_event: 'publish', p_id: publisher.id, p_subject: '/outage/x', msg: 'm' });
      expect(published.reply.status, 'publish').to.equal(503);
      expect(published.reply.text).to.match(reason).and.include(address);
      const ready = await http(`${s.base}/ready`);
      expect(ready.status, '/ready').to.equal(503);
      expect((JSON.parse(ready.text) as { reason: string }).reason).to.match(reason);
      // More requests over a longer outage: still one warning.
      for (let i = 0; i < 5; i++) {
        await sleep(OUTAGE_MS / 5);
        expect((await publisher.send({ p_event: 'publish', p_id: publisher.id, p_subject: '/outage/x', msg: String(i) })).reply.status).to.equal(503);
      }

      await child.restart();
      await eventually(async () => {
        expect((await http(`${s.srv}?${qs({ p_event: 'join', p_format: 'xml' })}`)).status).to.equal(200);
      }, 15_000);
      expect((await publisher.send({ p_event: 'publish', p_id: publisher.id, p_subject: '/outage/x', msg: 'back' })).reply.status).to.equal(200);
      expect((await http(`${s.base}/ready`)).status).to.equal(200);
      await sleep(300);

      const lines = log.lines.slice(before);
      const warned = lines.filter((l) => l.level === 'warn' || l.level === 'error');
      expect(warned.map((l) => `${l.level}: ${l.msg}`), 'warnings and errors since Redis went away').to.have.length(1);
      expect(warned[0].level).to.equal('warn');
      expect(warned[0].msg).to.match(/^Redis at 127\.0\.0\.1:\d+ is unavailable/).and.include(address);
      const back = lines.filter((l) => l.level === 'info' && /Redis/.test(l.msg));
      expect(back.map((l) => l.msg), 'recovery lines').to.have.length(1);
      expect(back[0].msg).to.include(address).and.match(/available again/);
      expect(lines.filter(hasStack).map((l) => l.msg), 'lines with a stack').to.deep.equal([]);
    });
  });

  describe('the bundled AJAX client in Chromium', () => {
    let browser: Browser;
    let site: Site;
    let page: Page;

    before(async () => {
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });

    beforeEach(async () => {
      child = await startRedis();
      site = await startSite(
        {
          'outage.html': `<!DOCTYPE html><meta charset="utf-8"><script src="lib/ajax-pushlet-client.js"></script>
<script>
  window.got = { data: [], errors: [] };
  function onData(e) { got.data.push(e.arr); }
  function onError(message) { got.errors.push(String(message)); }
</script>`,
        },
        node(child),
      );
      page = await browser.newPage();
    });

    afterEach(async () => {
      await page?.close();
      await site?.close();
    });

    it('a page in pull mode keeps polling through a Redis restart and gets the event published after it, without a reload or re-join', async () => {
      const subject = '/outage/page';
      const asked: { event: string | null; at: number }[] = [];
      const answered: { event: string | null; status: number; down: boolean }[] = [];
      let down = false;
      page.on('request', (r) => {
        if (r.url().includes('pushlet.srv')) asked.push({ event: new URL(r.url()).searchParams.get('p_event'), at: Date.now() });
      });
      page.on('response', (r) => {
        if (r.url().includes('pushlet.srv')) answered.push({ event: new URL(r.url()).searchParams.get('p_event'), status: r.status(), down });
      });
      let loads = 0;
      page.on('load', () => loads++);
      const pageErrors: Error[] = [];
      page.on('pageerror', (err) => pageErrors.push(err));

      await page.goto(`${site.base}/pushlet/outage.html`);
      await page.evaluate(`PL.joinListen(${JSON.stringify(subject)})`);
      await page.waitForFunction('PL.state === 3 && !!PL.sessionId', undefined, { timeout: 10_000, polling: 50 });
      const id = (await page.evaluate('PL.sessionId')) as string;
      const publisher = new TestClient(site.srv);
      await publisher.join();

      down = true;
      await child.stop();
      await sleep(OUTAGE_MS);
      down = false;
      await child.restart();
      await publishUntilTaken(publisher, { p_subject: subject, msg: 'after the outage' });

      await page.waitForFunction('got.data.some(function (d) { return d.msg === "after the outage"; })', undefined, { timeout: 15_000, polling: 50 });
      const d = (await page.evaluate('got.data.filter(function (d) { return d.msg === "after the outage"; })[0]')) as Ev;
      expect(d).to.include({ p_event: 'data', p_subject: subject, p_from: publisher.id });
      expect(await page.evaluate('got.errors'), 'onError calls').to.deep.equal([]);
      expect(pageErrors.map(String)).to.deep.equal([]);
      expect(loads, 'page loads').to.equal(1);
      expect(await page.evaluate('PL.sessionId')).to.equal(id);
      expect(await page.evaluate('PL.state')).to.equal(3);
      // One join-listen, then refreshes only; those answered while Redis was down were 200s.
      expect(asked.filter((a) => a.event !== 'refresh').map((a) => a.event)).to.deep.equal(['join-listen']);
      const whileDown = answered.filter((a) => a.down);
      expect(whileDown.length, 'answers while Redis was down').to.be.at.least(1);
      expect(whileDown.map((a) => a.status)).to.satisfy((xs: number[]) => xs.every((x) => x === 200));
    });
  });
});
