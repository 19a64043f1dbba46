import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { createServer, type PushletServer } from '../../src/index';
import { TestClient } from '../support/client';
import { recorder } from '../support/log';
import { storeOverrides } from '../support/server';

/** The seed WAR's WEB-INF/classes/sources.properties: six Java test sources. */
const SEED_SOURCES = `# Each EventSource is defined as <key>=<classname>
source1=nl.justobjects.pushlet.test.TestEventPullSources$TemperatureEventPullSource
source2=nl.justobjects.pushlet.test.TestEventPullSources$SystemStatusEventPullSource
source3=nl.justobjects.pushlet.test.TestEventPullSources$PushletStatusEventPullSource
source4=nl.justobjects.pushlet.test.TestEventPullSources$AEXStocksEventPullSource
source5=nl.justobjects.pushlet.test.TestEventPullSources$WebPresentationEventPullSource
source6=nl.justobjects.pushlet.test.TestEventPullSources$PingEventPullSource
`;

const commentedOut = (text: string) => text.replace(/^source/gm, '#source');

/** docs/MIGRATING.md section 2: which event sources run, read as Java reads sources.properties. */
describe('sources.properties', () => {
  const dirs: string[] = [];
  const servers: PushletServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A folder holding `files` (relative path -> text). */
  function folder(files: Record<string, string>): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'pushlet-sources-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text, 'latin1');
    }
    return dir;
  }

  /** Starts a server as the command would, with only `opts` (and the suite's store) configured. */
  async function start(opts: { configFile?: string; overrides?: Record<string, string> }) {
    const log = recorder();
    const server = createServer({ env: {}, logger: log, configFile: opts.configFile, overrides: { ...storeOverrides(), ...opts.overrides } });
    servers.push(server);
    const base = await server.listen(0, '127.0.0.1');
    const active = Number(/^pushlet_sources_active (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())![1]);
    return { server, base, active, warnings: log.lines.filter((l) => l.level === 'warn').map((l) => l.msg) };
  }

  it('runs no source when every line of sources.properties is commented out (as Java)', async () => {
    const dir = folder({ 'pushlet.properties': 'sources.activate=true\n', 'sources.properties': commentedOut(SEED_SOURCES) });
    const s = await start({ configFile: path.join(dir, 'pushlet.properties') });
    expect(s.server.config.sourcesList).to.deep.equal([]);
    expect(s.active).to.equal(0);
  });

  it('runs the built-ins standing in for the seed\'s test sources, and names those that cannot run', async function () {
    this.timeout(15000);
    const dir = folder({ 'pushlet.properties': 'sources.activate=true\n', 'sources.properties': SEED_SOURCES });
    const s = await start({ configFile: path.join(dir, 'pushlet.properties') });
    expect(s.server.config.sourcesList).to.deep.equal(['temperature', 'ticker', 'ping']);
    expect(s.active).to.equal(3);
    for (const cls of ['SystemStatusEventPullSource', 'PushletStatusEventPullSource', 'WebPresentationEventPullSource']) {
      expect(s.warnings.filter((w) => w.includes(cls) && w.includes('cannot run here')), cls).to.have.length(1);
    }
    // The ping source publishes on Java's /pushlet/ping every 3 s, which the seed's pages listen to.
    const c = await new TestClient(`${s.base}/pushlet/pushlet.srv`).joinPull('/pushlet/ping');
    const got = await c.event('refresh', {}, { maxTimeMs: 10000 });
    expect(got.find((e) => e.p_event === 'data')).to.include({ p_subject: '/pushlet/ping' });
  });

  it('reads it from the webapp\'s WEB-INF/classes, then WEB-INF, as a servlet container\'s classpath', async () => {
    const webapp = folder({ 'WEB-INF/classes/sources.properties': 'ping=nl.justobjects.pushlet.test.TestEventPullSources$PingEventPullSource\n', 'WEB-INF/sources.properties': 'x=ticker\n' });
    const s = await start({ overrides: { webapp } });
    expect(s.server.config.sourcesList).to.deep.equal(['ping']);
    expect(s.active).to.equal(1);
    rmSync(path.join(webapp, 'WEB-INF', 'classes'), { recursive: true });
    expect(loadConfig({ overrides: { webapp } }).sourcesList).to.deep.equal(['ticker']);
  });

  it('runs the demo sources only when no configuration file is given at all', async () => {
    const s = await start({});
    expect(s.server.config.sourcesList).to.deep.equal(['ping', 'ticker', 'temperature']);
    expect(s.active).to.equal(3);
    const dir = folder({ 'pushlet.properties': 'sources.activate=true\n' });
    const file = path.join(dir, 'pushlet.properties');
    const warnings: string[] = [];
    expect(loadConfig({ file, warn: (m) => warnings.push(m) }).sourcesList).to.deep.equal([]);
    expect(warnings).to.deep.equal([`sources.activate=true but there is no sources.properties beside ${file}: no event source runs`]);
  });

  it('leaves sources.properties unread when sources.activate=false or sources.list is set', () => {
    const dir = folder({ 'pushlet.properties': 'sources.activate=false\n', 'sources.properties': SEED_SOURCES });
    const file = path.join(dir, 'pushlet.properties');
    const warnings: string[] = [];
    expect(loadConfig({ file, warn: (m) => warnings.push(m) }).sourcesActivate).to.equal(false);
    expect(warnings).to.deep.equal([]);
    expect(loadConfig({ file, overrides: { 'sources.activate': true, 'sources.list': 'ticker' } }).sourcesList).to.deep.equal(['ticker']);
  });

  it('takes built-in names and module paths too, a relative path from the file\'s folder', async () => {
    const module = `exports.createSource = () => ({ name: 'mine', start() {}, stop() {} });\n`;
    const dir = folder({ 'pushlet.properties': 'sources.activate=true\n', 'sources.properties': 'a=./lib/mine.js\nb=temperature\n', 'lib/mine.js': module });
    const s = await start({ configFile: path.join(dir, 'pushlet.properties') });
    expect(s.server.config.sourcesList).to.deep.equal([path.join(dir, 'lib', 'mine.js'), 'temperature']);
    expect(s.active).to.equal(2);
  });
});
