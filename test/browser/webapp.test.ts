import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ConfigError, createServer, type PushletServer } from '../../src/index';
import { http } from '../support/client';
import { CLI, startNode, type Node } from '../faults/nodes';
import { BROWSER_TIMEOUTS, launchBrowser } from './site';

/** A webapp folder holding `files` (relative path -> content). */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pushlet-war-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

const webXml = (welcome: string[], ns = '') => `<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE web-app PUBLIC "-//Sun Microsystems, Inc.//DTD Web Application 2.3//EN" "http://java.sun.com/dtd/web-app_2_3.dtd">
<${ns}web-app${ns ? ` xmlns:${ns.slice(0, -1)}="http://java.sun.com/xml/ns/j2ee"` : ''}>
  <!-- <${ns}welcome-file-list><${ns}welcome-file>commented.html</${ns}welcome-file></${ns}welcome-file-list> -->
  <${ns}servlet><${ns}servlet-name>pushlet</${ns}servlet-name></${ns}servlet>
  <${ns}welcome-file-list>
${welcome.map((w) => `    <${ns}welcome-file>${w}</${ns}welcome-file>`).join('\n')}
  </${ns}welcome-file-list>
</${ns}web-app>`;

/** A page in the seed's style: the global API, callbacks on window, started from onload. */
const IM_HTML = `<html><head><title>Pushlet IM</title>
<script type="text/javascript" src="lib/ajax-pushlet-client.js"></script>
<script type="text/javascript">
  var lines = [];
  function onData(event) {
    lines.push(event.get('nick') + ': ' + event.get('msg'));
    document.getElementById('log').appendChild(document.createTextNode(lines[lines.length - 1] + '\\n'));
  }
  function say(nick, msg) { p_publish('/im/chat', 'nick', nick, 'msg', msg); }
</script></head>
<body onload="p_join_listen('/im/chat')"><h1>IM</h1><pre id="log"></pre></body></html>`;

describe('a WAR\'s page folder: welcome files, the demo beside them, refused folders', function () {
  this.timeout(30_000);
  const made: string[] = [];
  const servers: PushletServer[] = [];
  const nodes: Node[] = [];
  const dir = (files: Record<string, string>) => {
    const d = folder(files);
    made.push(d);
    return d;
  };
  async function serve(webapp: string): Promise<string> {
    const server = createServer({ env: {}, overrides: { ...BROWSER_TIMEOUTS, webapp } });
    servers.push(server);
    return server.listen(0, '127.0.0.1');
  }
  afterEach(async () => {
    for (const n of nodes.splice(0)) n.proc.kill('SIGKILL');
    await Promise.all(servers.splice(0).map((s) => s.close()));
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('serves web.xml\'s first welcome file that exists at the context root and in each folder, as Tomcat does', async () => {
    const base = await serve(dir({
      'WEB-INF/web.xml': webXml(['index.jsp', 'IM.html', 'index.html']),
      'IM.html': IM_HTML,
      'index.html': 'not me: IM.html comes first',
      'index.jsp': '<% not served %>',
      'rooms/index.html': 'rooms index',
      'empty/other.html': 'x',
    }));
    const root = await http(`${base}/pushlet/`);
    expect(root.status).to.equal(200);
    expect(root.text).to.equal(IM_HTML);
    expect((await http(`${base}/pushlet/rooms/`)).text).to.equal('rooms index');
    expect((await http(`${base}/pushlet/empty/`)).status).to.equal(404);
    // `/` and the bare context still lead there.
    expect((await http(`${base}/`)).headers.location).to.equal('/pushlet/');
  });

  it('reads namespaced web.xml too, and falls back to index.html without a list', async () => {
    const namespaced = await serve(dir({ 'WEB-INF/web.xml': webXml(['start.html'], 'j2ee:'), 'start.html': 'start page' }));
    expect((await http(`${namespaced}/pushlet/`)).text).to.equal('start page');
    const plain = await serve(dir({ 'WEB-INF/web.xml': '<web-app><display-name>x</display-name></web-app>', 'index.html': 'plain index' }));
    expect((await http(`${plain}/pushlet/`)).text).to.equal('plain index');
  });

  it('keeps the demo at <ctx>/demo/ with its clients, and answers 404 at the root of a webapp without a welcome file', async () => {
    const base = await serve(dir({ 'page.html': 'a page' }));
    expect((await http(`${base}/pushlet/`)).status).to.equal(404);
    const demo = await http(`${base}/pushlet/demo/`);
    expect(demo.status).to.equal(200);
    expect(demo.text).to.include('lib/ajax-pushlet-client.js');
    expect((await http(`${base}/pushlet/demo/lib/ajax-pushlet-client.js`)).text).to.include('window.Xparse');
    // The demo's client talks to <ctx>/demo/pushlet.srv: any path ending in /pushlet.srv is the endpoint.
    expect((await http(`${base}/pushlet/demo/pushlet.srv?p_event=join&p_format=xml`)).text).to.include('join-ack');
  });

  it('refuses a missing folder, a file and a malformed web.xml at start, naming them', async () => {
    const missing = path.join(tmpdir(), `pushlet-no-such-war-${process.pid}`);
    expect(() => createServer({ env: {}, overrides: { 'log.level': 0, webapp: missing } })).to.throw(ConfigError, `webapp: ${missing} does not exist`);
    const file = path.join(dir({ 'war.txt': 'x' }), 'war.txt');
    expect(() => createServer({ env: {}, overrides: { 'log.level': 0, webapp: file } })).to.throw(ConfigError, `webapp: ${file} is not a folder`);
    const broken = dir({ 'WEB-INF/web.xml': '<web-app><welcome-file-list></web-app>' });
    expect(() => createServer({ env: {}, overrides: { 'log.level': 0, webapp: broken } })).to.throw(ConfigError, /web\.xml is not well-formed XML \(line 1: /);
  });

  it('the command takes --webapp and PUSHLET_WEBAPP, and stops with one line on a missing folder', async () => {
    const war = dir({ 'WEB-INF/web.xml': webXml(['IM.html']), 'IM.html': IM_HTML });
    const node = await startNode(['--webapp', war]);
    nodes.push(node);
    expect((await http(`${node.base}/pushlet/`)).text).to.equal(IM_HTML);

    const missing = path.join(tmpdir(), `pushlet-no-such-war-${process.pid}`);
    for (const [args, env] of [[['--webapp', missing], {}], [[], { PUSHLET_WEBAPP: missing }]] as const) {
      const proc = spawn(process.execPath, [CLI, '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      proc.stderr!.on('data', (d: Buffer) => (err += d));
      const code = await new Promise((r) => proc.on('exit', r));
      expect(code).to.equal(2);
      expect(err).to.equal(`pushlet-server: webapp: ${missing} does not exist; give the folder of the old web application's pages\n`);
    }
  });

  describe('in Chromium', () => {
    let browser: Browser;
    before(async () => {
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });

    async function open(url: string): Promise<Page> {
      const page = await browser.newPage();
      page.on('pageerror', (err) => {
        throw err;
      });
      await page.goto(url);
      return page;
    }

    it('the seed-style IM page at the context root chats between two browsers; the demo still connects at demo/', async () => {
      const base = await serve(dir({ 'WEB-INF/web.xml': webXml(['IM.html']), 'IM.html': IM_HTML }));
      const ann = await open(`${base}/pushlet/`);
      const bob = await open(`${base}/pushlet/`);
      for (const p of [ann, bob]) {
        expect(await p.title()).to.equal('Pushlet IM');
        await p.waitForFunction('PL.state === 3 && !!PL.sessionId', undefined, { timeout: 10_000, polling: 50 });
      }
      await ann.evaluate("say('ann', 'hello from the welcome page')");
      for (const p of [ann, bob]) {
        await p.waitForFunction("lines.indexOf('ann: hello from the welcome page') >= 0", undefined, { timeout: 10_000, polling: 50 });
      }
      const demo = await open(`${base}/pushlet/demo/`);
      await demo.waitForFunction('!!PL.sessionId', undefined, { timeout: 10_000, polling: 50 });
      expect(await demo.evaluate('PL.pushletURL')).to.match(/\/pushlet\/demo\/pushlet\.srv$/);
      await Promise.all([ann.close(), bob.close(), demo.close()]);
    });
  });
});
