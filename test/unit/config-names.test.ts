import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type ConfigSources } from '../../src/config/config';
import { closest, editDistance } from '../../src/config/suggest';
import { createServer } from '../../src/index';
import { recorder } from '../support/log';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function propsFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pushlet-cfg-'));
  dirs.push(dir);
  const f = join(dir, 'pushlet.properties');
  writeFileSync(f, text, 'latin1');
  return f;
}

/** loadConfig, and what it warned about. */
function load(src: ConfigSources): { warnings: string[] } {
  const warnings: string[] = [];
  loadConfig({ ...src, warn: (m) => warnings.push(m) });
  return { warnings };
}

/** The keys and values of the Redis fork's shipped pushlet.properties (WEB-INF/classes). */
const JAVA_FILE = `config.version=1.0.2
controller.class=nl.justobjects.pushlet.core.Controller
dispatcher.class=nl.justobjects.pushlet.core.Dispatcher
logger.class=nl.justobjects.pushlet.util.Log4jLogger
sessionmanager.class=nl.justobjects.pushlet.core.SessionManager
session.class=nl.justobjects.pushlet.core.Session
subscriber.class=nl.justobjects.pushlet.core.Subscriber
subscription.class=nl.justobjects.pushlet.core.Subscription
log.level=4
sources.activate=false
session.id.generation=uuid
session.id.size=10
session.timeout.mins=3
queue.size=256
queue.read.timeout.millis=20000
queue.write.timeout.millis=20000
listen.force.pull.all=false
listen.force.pull.agents=safari
pull.refresh.timeout.millis=45000
pull.refresh.wait.min.millis=2000
pull.refresh.wait.max.millis=6000
poll.refresh.timeout.millis=60000
poll.refresh.wait.min.millis=6000
poll.refresh.wait.max.millis=10000
redis.debug=true
redis.serverlist=127.0.0.1:6379
redis.minconn=5
redis.maxconn=100
redis.socketto=6000
redis.pagesize=100
`;

describe('config: names that are not settings', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('queue.sise', 'queue.size')).to.equal(1);
    expect(editDistance('queue.siez', 'queue.size')).to.equal(1);
    expect(editDistance('', 'abc')).to.equal(3);
    expect(editDistance('kitten', 'sitting')).to.equal(3);
    expect(closest('hots', ['port', 'host'])).to.deep.equal({ name: 'host', distance: 1 });
  });

  it('refuses an unknown setting from flags or code, with the closest name', () => {
    expect(() => loadConfig({ overrides: { 'queue.sise': 512 } })).to.throw(ConfigError, "unknown setting 'queue.sise' (from option); did you mean 'queue.size'?");
    expect(() => loadConfig({ overrides: { queueSise: 512 } })).to.throw(ConfigError, "did you mean 'queueSize'?");
    expect(() => createServer({ env: {}, overrides: { 'queue.sise': 5 } })).to.throw(ConfigError, /queue\.sise.*did you mean 'queue\.size'/);
    // Undefined means "not given", whatever the name.
    expect(loadConfig({ overrides: { 'queue.sise': undefined } }).queueSize).to.equal(256);
  });

  it('refuses a PUSHLET_ variable a typo away from a setting\'s, and leaves other PUSHLET_ variables alone', () => {
    expect(() => loadConfig({ env: { PUSHLET_QUEUE_SISE: '512' } })).to.throw(ConfigError, 'unknown setting PUSHLET_QUEUE_SISE (from env); did you mean PUSHLET_QUEUE_SIZE?');
    expect(() => loadConfig({ env: { PUSHLET_PROT: '1' } })).to.throw(ConfigError, /did you mean PUSHLET_PORT\?/);
    // Variables of the command, the tests, the bench and the examples, and names too far from any setting.
    const others = ['PUSHLET_CONFIG', 'PUSHLET_TEST_STORE', 'PUSHLET_TEST_REDIS_URL', 'PUSHLET_TEST_REDIS_BIN', 'PUSHLET_TEST_CHROMIUM',
      'PUSHLET_FUZZ_RUNS', 'PUSHLET_TOKEN_SECRET', 'PUSHLET_REFERENCE_WIRE', 'PUSHLET_SETTINGS', 'PUSHLET_PATH', 'PUSHLET_HOME'];
    const env = Object.fromEntries(others.map((n) => [n, 'x']));
    expect(() => loadConfig({ env: { ...env, PUSHLET_BIND_SECRET: 's', PUSHLET_WEBAPP: '/tmp', PUSHLET_QUEUE_SIZE: '9' } })).not.to.throw();
  });

  it('takes every key of Java\'s own pushlet.properties without a word, and warns once about any other', () => {
    expect(load({ file: propsFile(JAVA_FILE) }).warnings).to.deep.equal([]);
    const f = propsFile(JAVA_FILE + 'queue.sise=512\nmy.own.key=1\n');
    expect(load({ file: f }).warnings).to.deep.equal([
      `${f}: unknown key 'queue.sise' ignored (did you mean 'queue.size'?)`,
      `${f}: unknown key 'my.own.key' ignored`,
    ]);
  });

  it('has the server log those warnings through its logger', async () => {
    const log = recorder();
    const f = propsFile('sources.activate=false\nqueue.sise=512\n');
    const server = createServer({ env: {}, configFile: f, logger: log, overrides: { 'log.level': 0 } });
    await server.close();
    expect(log.lines.filter((l) => l.level === 'warn' && l.msg.includes('queue.sise'))).to.have.length(1);
  });

  it('names key, value and source in every refusal of a value', () => {
    const refuse = (src: ConfigSources, message: string) => expect(() => loadConfig(src)).to.throw(ConfigError, message);
    refuse({ overrides: { 'queue.size': 0 } }, "queue.size: must be at least 1, got '0' (from option)");
    refuse({ env: { PUSHLET_QUEUE_SIZE: '0' } }, "queue.size: must be at least 1, got '0' (from env PUSHLET_QUEUE_SIZE)");
    const f = propsFile('session.timeout.mins=0\n');
    refuse({ file: f }, `session.timeout.mins: must be at least 1, got '0' (from ${f})`);
    refuse({ env: { PORT: '70000' } }, "port: must be at most 65535, got '70000' (from env PORT)");
    refuse({ overrides: { 'session.id.size': 3 } }, "session.id.size: must be at least 4, got '3' (from option)");
    refuse({ overrides: { 'session.aging.interval.millis': 5 } }, "session.aging.interval.millis: must be at least 10, got '5' (from option)");
    refuse({ overrides: { 'pull.refresh.wait.min.millis': 9000 } }, "pull.refresh.wait.min.millis: must not exceed pull.refresh.wait.max.millis (6000), got '9000' (from option)");
    refuse({ overrides: { 'response.charset': 'klingon' } }, "response.charset: unsupported charset, got 'klingon' (from option)");
    refuse({ overrides: { 'proxy.trust': 'true,10.0.0.1' } }, "proxy.trust: must be true, false, or addresses and CIDR ranges such as 127.0.0.1,10.0.0.0/8, got 'true,10.0.0.1' (from option)");
  });
});
