import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, startSite, type Site } from './site';

/** test-artifacts/ at the repository root (this file runs from dist/test/browser/). */
const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts');

describe('demo page in Chromium', function () {
  this.timeout(30000);
  let browser: Browser;
  let site: Site;
  let alice: Page;
  let bob: Page;

  before(async () => {
    browser = await launchBrowser();
    // As `npm start` runs it: the built-in sources feed the ticker.
    site = await startSite({}, { 'sources.activate': true });
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  async function openDemo(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    page.on('pageerror', (err) => {
      throw err;
    });
    const res = await page.goto(`${site.base}/`);
    expect(page.url()).to.equal(`${site.base}/pushlet/`);
    expect(res?.status()).to.equal(200);
    await page.waitForFunction("document.getElementById('status').textContent.indexOf('connected as') === 0", undefined, { polling: 50, timeout: 10000 });
    return page;
  }

  it('connects from / and chats between two pages', async () => {
    alice = await openDemo();
    bob = await openDemo();
    await alice.fill('#nick', 'alice');
    await alice.fill('#text', 'hello <b>bob</b> & "friends"');
    await alice.click('button[type=submit]');
    for (const page of [alice, bob]) {
      await page.waitForFunction("document.querySelectorAll('#messages li').length === 1", undefined, { polling: 50, timeout: 10000 });
      expect(await page.textContent('#messages li')).to.equal('alicehello <b>bob</b> & "friends"');
      expect(await page.$$('#messages li b')).to.have.length(0);
    }
    expect(await alice.inputValue('#text')).to.equal('');
  });

  it('shows the ticker fed by the built-in server-side source, and saves a screenshot', async () => {
    await alice.waitForFunction("document.getElementById('tick-fields').textContent.indexOf('price: ') >= 0", undefined, { polling: 50, timeout: 10000 });
    expect(await alice.textContent('#tick-fields')).to.match(/symbol: \w+\nprice: \d+\.\d\d/);
    const ticks = async () => Number.parseInt((await alice.textContent('#tick-count')) ?? '0', 10);
    const first = await ticks();
    await alice.waitForFunction(`parseInt(document.getElementById('tick-count').textContent, 10) > ${first}`, undefined, { polling: 50, timeout: 10000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: path.join(ARTIFACTS, 'demo.png') });
  });
});
