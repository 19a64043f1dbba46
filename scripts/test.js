#!/usr/bin/env node
// `npm test`: provisions what the tests need (redis-server, Debian's chromium, nginx), starts a
// redis-server on a free loopback port, runs every mocha test under dist/test, stops Redis and
// prints one closing line `N passed, N failed`. Arguments narrow the run to folders or files
// under test/ (e.g. `npm test -- test/faults`); `--unit` runs test/unit alone, provisioning
// nothing. The whole run then repeats the integration and conformance suites on the Redis
// store, so both stores pass the same tests.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const REDIS_BIN = '/usr/bin/redis-server';
const CHROMIUM_BIN = '/usr/bin/chromium';
const NGINX_BIN = '/usr/sbin/nginx';

function provision() {
  const missing = [];
  if (!fs.existsSync(REDIS_BIN)) missing.push('redis-server');
  if (!fs.existsSync(CHROMIUM_BIN)) missing.push('chromium');
  if (!fs.existsSync(NGINX_BIN)) missing.push('nginx');
  if (missing.length === 0) return;
  const isRoot = process.getuid && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) {
    console.error(`npm test needs ${missing.join(' and ')}: install with 'apt-get install -y ${missing.join(' ')}' (as root on Debian), then run again.`);
    process.exit(2);
  }
  console.log(`installing ${missing.join(', ')} with apt-get ...`);
  const opts = { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  execFileSync('apt-get', ['update', '-q'], opts);
  execFileSync('apt-get', ['install', '-y', '-q', ...missing], opts);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'pushlet-redis-'));
  const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 10000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.write('PING\r\n'); });
      c.once('data', (d) => { c.destroy(); resolve(String(d).startsWith('+PONG')); });
      c.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, proc, dir };
}

function testFiles(args) {
  const roots = args.length ? args : ['test'];
  const files = [];
  const walk = (p) => {
    if (!fs.existsSync(p)) return;
    if (fs.statSync(p).isDirectory()) {
      for (const f of fs.readdirSync(p).sort()) walk(path.join(p, f));
    } else if (p.endsWith('.test.js')) files.push(p);
  };
  for (const r of roots) walk(path.join(ROOT, 'dist', r.replace(/\.ts$/, '.js')));
  return files;
}

/** Runs mocha over `files` in this process; resolves to its stats. */
async function runMocha(files) {
  const { Mocha } = require('mocha');
  const mocha = new Mocha({ timeout: 20000, reporter: 'spec' });
  for (const f of files) mocha.addFile(f);
  await mocha.loadFilesAsync();
  return new Promise((resolve) => {
    const runner = mocha.run();
    runner.on('end', () => resolve(runner.stats));
  });
}

/** The integration and conformance suites again, on the Redis store, in a child process. */
function runOnRedis() {
  return new Promise((resolve) => {
    const statsFile = path.join(require('node:os').tmpdir(), `pushlet-redis-pass-${process.pid}.json`);
    console.log('\n==== the integration and conformance suites again, on the Redis store ====');
    const child = spawn(process.execPath, [__filename, '--stats-to', statsFile, ...REDIS_PASS], {
      stdio: 'inherit', env: { ...process.env, PUSHLET_TEST_STORE: 'redis' },
    });
    child.on('exit', () => {
      try {
        resolve(JSON.parse(fs.readFileSync(statsFile, 'utf8')));
        fs.rmSync(statsFile, { force: true });
      } catch {
        resolve({ passes: 0, failures: 1, pending: 0 });
      }
    });
  });
}

/** What runs on both stores: everything that talks to a server through the protocol. */
const REDIS_PASS = ['test/integration', 'test/compat/kit.test.js'];

async function main() {
  const args = process.argv.slice(2);
  const statsAt = args.indexOf('--stats-to');
  if (statsAt >= 0) {
    // Child of the run below: the services are up and the env is set.
    const statsFile = args[statsAt + 1];
    const stats = await runMocha(testFiles(args.filter((_, i) => i !== statsAt && i !== statsAt + 1)));
    fs.writeFileSync(statsFile, JSON.stringify({ passes: stats.passes, failures: stats.failures, pending: stats.pending }));
    process.exit(0);
  }
  if (args[0] === '--unit') {
    // `npm run test:unit`: core and protocol tests only; no Redis, no browser, nothing installed.
    const stats = await runMocha(testFiles(['test/unit']));
    console.log(`\n${stats.passes} passed, ${stats.failures} failed${stats.pending ? `, ${stats.pending} skipped` : ''}`);
    process.exit(stats.failures > 0 || stats.passes === 0 ? 1 : 0);
  }
  provision();
  const redis = await startRedis();
  process.env.PUSHLET_TEST_REDIS_URL = `redis://127.0.0.1:${redis.port}`;
  process.env.PUSHLET_TEST_REDIS_BIN = REDIS_BIN;
  process.env.PUSHLET_TEST_CHROMIUM = CHROMIUM_BIN;
  process.env.PUSHLET_TEST_NGINX = NGINX_BIN;
  const stopRedis = () => { try { redis.proc.kill('SIGKILL'); fs.rmSync(redis.dir, { recursive: true, force: true }); } catch { /* already gone */ } };
  process.on('exit', stopRedis);

  const first = await runMocha(testFiles(args));
  // A narrowed run (npm test -- test/unit) skips the second pass; PUSHLET_TEST_STORE=redis runs
  // a narrowed run on Redis instead.
  const second = args.length === 0 ? await runOnRedis() : { passes: 0, failures: 0, pending: 0 };
  const passes = first.passes + second.passes;
  const failures = first.failures + second.failures;
  const pending = first.pending + second.pending;
  console.log(`\n${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}`);
  stopRedis();
  process.exit(failures > 0 || passes === 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
