import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';

function propsFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'pushlet-cfg-')), 'pushlet.properties');
  writeFileSync(f, text, 'latin1');
  return f;
}

describe('config', () => {
  it('has the Java defaults', () => {
    const c = loadConfig();
    expect(c).to.include({ sessionTimeoutMins: 3, queueSize: 256, queueReadTimeoutMillis: 20000, port: 8080, context: '/pushlet' });
    expect(c.listenForcePullAgents).to.deep.equal(['safari']);
  });

  it('reads a Java pushlet.properties, ignoring unknown keys and comments', () => {
    const f = propsFile('# comment\n! also\nqueue.size = 17\nlisten.force.pull.agents=Safari, Opera\nsome.java.only.key=x\nsession.id.generation : randomstring\n');
    const c = loadConfig({ file: f });
    expect(c.queueSize).to.equal(17);
    expect(c.listenForcePullAgents).to.deep.equal(['safari', 'opera']);
    expect(c.sessionIdGeneration).to.equal('randomstring');
  });

  it('lets env override the file and flags override env', () => {
    const f = propsFile('queue.size=17\n');
    expect(loadConfig({ file: f, env: { PUSHLET_QUEUE_SIZE: '18' } }).queueSize).to.equal(18);
    expect(loadConfig({ file: f, env: { PUSHLET_QUEUE_SIZE: '18' }, overrides: { 'queue.size': 19 } }).queueSize).to.equal(19);
    expect(loadConfig({ env: { PORT: '9999' } }).port).to.equal(9999);
  });

  it('rejects a bad value naming the key and where it came from', () => {
    const f = propsFile('queue.size=lots\n');
    expect(() => loadConfig({ file: f })).to.throw(ConfigError, /queue\.size: must be a whole number.*'lots'.*pushlet\.properties/);
    expect(() => loadConfig({ overrides: { 'listen.force.pull.all': 'yes' } })).to.throw(ConfigError, /listen\.force\.pull\.all: must be true or false/);
    expect(() => loadConfig({ overrides: { 'session.id.generation': 'guid' } })).to.throw(ConfigError, /one of uuid, randomstring/);
    expect(() => loadConfig({ overrides: { 'pull.refresh.wait.min.millis': 9000 } })).to.throw(ConfigError, /pull\.refresh\.wait\.min\.millis/);
    expect(() => loadConfig({ overrides: { 'redis.java.nodes': 'maybe' } })).to.throw(ConfigError, /redis\.java\.nodes: must be one of auto, on, off/);
    expect(() => loadConfig({ overrides: { 'publish.answer.millis': '-1' } })).to.throw(ConfigError, /publish\.answer\.millis: must be a whole number/);
    expect(() => loadConfig({ overrides: { 'publish.answer.early': 'sometimes' } })).to.throw(ConfigError, /publish\.answer\.early: must be true or false/);
    expect(() => loadConfig({ overrides: { 'publish.adopt.millis': 'soon' } })).to.throw(ConfigError, /publish\.adopt\.millis: must be a whole number/);
  });

  it('normalises the context path', () => {
    expect(loadConfig({ overrides: { context: 'app/' } }).context).to.equal('/app');
  });
});
