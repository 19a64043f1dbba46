import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT, run, VERSION, type Finished } from './processes';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPES_NODE = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@types/node'];

/** A consumer that uses the package as its README shows: a server, a session, a bundled client. */
const USE_IT = `
const { createServer, MemoryStore, RedisStore, SILENT } = require('pushlet-server');
(async () => {
  const server = createServer({ env: {}, logger: SILENT, overrides: { 'sources.activate': false } });
  const base = await server.listen(0, '127.0.0.1');
  const join = await (await fetch(base + '/pushlet/pushlet.srv?p_event=join&p_format=xml')).text();
  const client = await fetch(base + '/pushlet/lib/ajax-pushlet-client.js');
  const demo = await fetch(base + '/pushlet/demo/');
  await server.close();
  console.log(JSON.stringify({ join, client: client.status, demo: demo.status, stores: [typeof MemoryStore, typeof RedisStore] }));
})();
`;

/** Every type the options take, and the embedding API, type-checked as a strict consumer would. */
const TYPED = `
import { createServer as createHttpServer } from 'node:http';
import {
  createServer, MemoryStore, PushletServer, type AttachOptions, type AuthHook, type Config, type EventSource,
  type Logger, type ServerOptions, type Store,
} from 'pushlet-server';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const auth: AuthHook = (req) => (req.action === 'join' ? { allow: true } : { allow: false, reason: 'no' });
const source: EventSource = { name: 'clock', start(ctx) { void ctx.publish('/time', { now: String(Date.now()) }); }, stop() {} };
const store: Store = new MemoryStore();
const options: ServerOptions = { env: {}, overrides: { 'queue.size': 16 }, store, logger, auth, sources: [source] };
const server: PushletServer = createServer(options);
const config: Config = server.config;
const at: AttachOptions = { path: config.context };
const middleware = server.koa(at);
void middleware;
void server.attach(createHttpServer(), at);
`;

describe('the package, packed and installed as a user would', function () {
  this.timeout(60_000);
  let dir: string;
  let tarball: string;
  const inProject = (cmd: string, args: string[]): Promise<Finished> => run(cmd, args, { cwd: path.join(dir, 'app'), timeoutMs: 50_000 });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pushlet-pack-'));
    // The build is the one `npm test` just made (pretest); `prepare` would only repeat it.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    expect(packed.code, packed.stderr).to.equal(0);
    tarball = path.join(dir, `pushlet-server-${VERSION}.tgz`);
    mkdirSync(path.join(dir, 'app'));
    writeFileSync(path.join(dir, 'app', 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships the built library, its bin, the clients, the docs and examples; no tests, benchmarks or sources', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli.js', 'static/index.html',
      'static/lib/ajax-pushlet-client.js', 'docs/MIGRATING.md', 'examples/embed-koa.js', 'examples/embed-http.js']) {
      expect(files, f).to.include(f);
    }
    const stray = files.filter((f) => /^(test|bench|compat|src|scripts|\.ci)\/|^dist\/(test|bench|compat)\/|\.map$|^tsconfig/.test(f));
    expect(stray).to.deep.equal([]);
  });

  it('installs from the tarball: bin and npx print the version, require() and import serve a session, types check', async () => {
    const installed = await inProject('npm', ['install', tarball, `@types/node@${TYPES_NODE}`, '--no-audit', '--no-fund', '--prefer-offline']);
    expect(installed.code, installed.stderr).to.equal(0);

    for (const [cmd, args] of [[path.join(dir, 'app', 'node_modules', '.bin', 'pushlet-server'), ['--version']], ['npx', ['pushlet-server', '--version']]] as const) {
      const r = await inProject(cmd, [...args]);
      expect(r.stdout, `${cmd}: ${r.stderr}`).to.equal(`${VERSION}\n`);
    }

    const used = await inProject(process.execPath, ['-e', USE_IT]);
    expect(used.code, used.stderr).to.equal(0);
    const seen = JSON.parse(used.stdout) as { join: string; client: number; demo: number; stores: string[] };
    expect(seen.join).to.include('p_event="join-ack"');
    expect([seen.client, seen.demo]).to.deep.equal([200, 200]);
    expect(seen.stores).to.deep.equal(['function', 'function']);

    const esm = await inProject(process.execPath, ['--input-type=module', '-e', "import { createServer, PushletServer } from 'pushlet-server'; console.log(typeof createServer, typeof PushletServer);"]);
    expect(esm.stdout, esm.stderr).to.equal('function function\n');

    writeFileSync(path.join(dir, 'app', 'typed.ts'), TYPED);
    const checked = await inProject(process.execPath, [TSC, '--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', 'typed.ts']);
    expect(checked.code, checked.stdout).to.equal(0);
  });

  it('installs from git: prepare builds it in the clone', async () => {
    // A repository of this working tree as it is now (tracked and new files, nothing ignored).
    const repo = path.join(dir, 'repo');
    mkdirSync(repo);
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const f of files) {
      mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
      try {
        writeFileSync(path.join(repo, f), readFileSync(path.join(ROOT, f)));
      } catch {
        // Listed but removed meanwhile.
      }
    }
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: repo, stdio: 'ignore' });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'snapshot');

    const project = path.join(dir, 'from-git');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const installed = await run('npm', ['install', `git+file://${repo}`, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, timeoutMs: 55_000 });
    expect(installed.code, installed.stderr).to.equal(0);
    const version = await run(path.join(project, 'node_modules', '.bin', 'pushlet-server'), ['--version']);
    expect(version.stdout, version.stderr).to.equal(`${VERSION}\n`);
  });
});
