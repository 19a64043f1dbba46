import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { http } from '../support/client';
import { eventually } from '../support/log';
import { alive, childrenOf, portOpen, ROOT, run, startUntil, VERSION } from './processes';

const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const QUIET = ['--port', '0', '--host', '127.0.0.1', '--set', 'sources.activate=false'];
const START_LINE = /listening on (http:\/\/127\.0\.0\.1:(\d+))\/pushlet\/pushlet\.srv; demo page (\S+); store (.+?)"/;

describe('the pushlet-server command', function () {
  this.timeout(30_000);

  it('--help and -h list every flag and the most used settings', async () => {
    const long = await run(process.execPath, [CLI, '--help']);
    expect(long.code).to.equal(0);
    for (const flag of ['--config FILE', '--port N', '--host ADDR', '--context PATH', '--webapp DIR', '--redis URL', '--workers N|auto', '--set NAME=VALUE', '-h, --help', '-v, --version']) {
      expect(long.stdout, flag).to.include(flag);
    }
    for (const setting of ['session.timeout.mins=3', 'queue.size=256', 'subject.match=prefix', 'session.bind=none', 'log.level=4', 'redis.serverlist=']) {
      expect(long.stdout, setting).to.include(setting);
    }
    expect((await run(process.execPath, [CLI, '-h'])).stdout).to.equal(long.stdout);
  });

  it('--version and -v print the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await run(process.execPath, [CLI, flag]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(`${VERSION}\n`);
    }
  });

  it('its start line names the endpoint, the demo page and the store, and both answer', async () => {
    const node = await startUntil(process.execPath, [CLI, ...QUIET], START_LINE);
    try {
      const [, base, , demo, store] = node.match;
      expect(store).to.equal('embedded');
      expect(demo).to.equal(`${base}/pushlet/demo/`);
      const page = await http(demo);
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect((await http(`${base}/pushlet/pushlet.srv?p_event=join&p_format=xml`)).text).to.include('join-ack');
    } finally {
      node.proc.kill('SIGKILL');
    }
  });

  it('names the Redis store by its address, without the password', async () => {
    const url = new URL(process.env.PUSHLET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const node = await startUntil(process.execPath, [CLI, ...QUIET, '--redis', `redis://:hunter2@${url.host}`], START_LINE);
    try {
      expect(node.match[4]).to.equal(`redis redis://${url.host}`);
      expect(node.out()).to.not.include('hunter2');
    } finally {
      node.proc.kill('SIGKILL');
    }
  });

  it('logs JSON lines when stdout is not a terminal, and readable lines on a terminal', async () => {
    const piped = await startUntil(process.execPath, [CLI, ...QUIET], START_LINE);
    piped.proc.kill('SIGTERM');
    await piped.exited;
    const lines = piped.out().trimEnd().split('\n');
    expect(lines.length).to.be.at.least(3);
    for (const line of lines) expect(() => JSON.parse(line), line).to.not.throw();
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).to.include('shutting down');

    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const tty = await startUntil('script', ['-qec', `${process.execPath} ${CLI} ${QUIET.join(' ')}`, '/dev/null'], /listening on http:\/\/127\.0\.0\.1:\d+\/pushlet\/pushlet\.srv/);
    tty.proc.kill('SIGTERM');
    await tty.exited;
    const shown = tty.out().replace(/\x1b\[[0-9;]*m/g, '');
    expect(shown).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: pushlet-server \S+ listening on/m);
    expect(shown).to.not.match(/^\{"level"/m);
  });

  describe('a start that cannot succeed stops with one line naming what to fix, and exit code 2', () => {
    let busy: NetServer;
    let busyPort: number;
    before(async () => {
      busy = createNetServer();
      await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
      busyPort = (busy.address() as { port: number }).port;
    });
    after(() => {
      busy.close();
    });

    const missing = path.join(tmpdir(), 'pushlet-no-such-file.properties');
    const cases: [string, () => string[], RegExp, NodeJS.ProcessEnv?][] = [
      ['a missing --config', () => ['--config', missing], /^--config \S+: no such file; give the path of a pushlet\.properties file$/],
      ['a missing PUSHLET_CONFIG', () => [], /^PUSHLET_CONFIG \S+: no such file; give the path/, { PUSHLET_CONFIG: missing }],
      ['an unreachable Redis', () => ['--redis', 'redis://127.0.0.1:1'], /^Redis at 127\.0\.0\.1:1 is unavailable: start it there, or point --redis/],
      ['an address this machine does not have', () => ['--host', '192.0.2.1'], /^host 192\.0\.2\.1: not an address of this machine; set --host/],
      ['an unknown host name', () => ['--host', 'no-such-host.invalid'], /^host no-such-host\.invalid: unknown host name; set --host/],
      ['a busy port', () => ['--host', '127.0.0.1', '--port', String(busyPort)], /^127\.0\.0\.1:\d+ is in use: stop what holds it, or choose another --port$/],
      ['a missing auth.module', () => ['--set', 'auth.module=/no/such/hook.js'], /^auth\.module: \/no\/such\/hook\.js does not load \(Cannot find module '\/no\/such\/hook\.js'\); give the path of a hook module/],
      ['an unknown flag', () => ['--frobnicate'], /^Unknown option '--frobnicate'; see pushlet-server --help$/],
      ['a stray argument', () => ['stray'], /^Unexpected argument 'stray'; see pushlet-server --help$/],
      ['a --set without a value', () => ['--set', 'queue.size'], /^--set queue\.size: expected NAME=VALUE/],
    ];
    for (const [what, args, message, env] of cases) {
      it(what, async () => {
        const r = await run(process.execPath, [CLI, '--port', '0', '--set', 'sources.activate=false', ...args()], { env: { ...process.env, ...env } });
        expect(r.code, r.stderr).to.equal(2);
        const lines = r.stderr.split('\n');
        expect(lines, r.stderr).to.have.length(2);
        expect(lines[1]).to.equal('');
        expect(lines[0]).to.match(/^pushlet-server: /);
        expect(lines[0].slice('pushlet-server: '.length)).to.match(message);
      });
    }
  });

  it('npm start runs the built server at once; SIGTERM to npm ends it and frees the port, leaving no node behind', async () => {
    const t0 = Date.now();
    const npm = await startUntil('npm', ['start', '--', ...QUIET], START_LINE, { cwd: ROOT });
    // A compile alone takes far longer than this here (npm run build: about 15 s).
    expect(Date.now() - t0).to.be.below(5000);
    const port = Number(npm.match[2]);
    const started = [npm.proc.pid!, ...childrenOf(npm.proc.pid!)];
    started.push(...started.slice(1).flatMap(childrenOf));
    try {
      const [, node, ...others] = started;
      expect(others, 'one child: the node process itself (exec), no shell between').to.deep.equal([]);
      expect(readFileSync(`/proc/${node}/cmdline`, 'utf8').split('\0').slice(0, 2)).to.deep.equal(['node', 'dist/src/cli.js']);
      expect(await portOpen(port)).to.equal(true);

      npm.proc.kill('SIGTERM');
      await npm.exited;
      await eventually(async () => expect(alive(node), `node ${node} still running`).to.equal(false), 5000);
      expect(await portOpen(port)).to.equal(false);
      expect(npm.out()).to.include('"signal":"SIGTERM","msg":"shutting down"');
    } finally {
      // Whatever failed, nothing this test started outlives it.
      for (const pid of started.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });
});
