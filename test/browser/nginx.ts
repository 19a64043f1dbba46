import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { accepts, freePort } from '../support/net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** `npm test` provisions nginx and names it here (scripts/test.js). */
const NGINX = process.env.PUSHLET_TEST_NGINX ?? '/usr/sbin/nginx';

/** The nginx block of docs/MIGRATING.md, as a reader copies it. */
export function migratingBlock(): string {
  const doc = readFileSync(path.resolve(__dirname, '../../../docs/MIGRATING.md'), 'utf8');
  const m = /```nginx\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/MIGRATING.md has no nginx block');
  return m[1];
}

export interface Nginx {
  /** e.g. `http://127.0.0.1:40123` */
  base: string;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground on a free loopback port, with `upstream pushlet_nodes` pointing
 * at `upstream` (host:port) and `locations` in its server block; stops with `stop()`.
 */
export async function startNginx(upstream: string, locations: string): Promise<Nginx> {
  if (!existsSync(NGINX)) throw new Error(`these tests need nginx at ${NGINX}: npm test installs it (apt-get install -y nginx)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'pushlet-nginx-'));
  const temp = path.join(dir, 'temp');
  mkdirSync(temp);
  const port = await freePort();
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  upstream pushlet_nodes { server ${upstream}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc: ChildProcess = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`nginx did not start: ${err}${existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
