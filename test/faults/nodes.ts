import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The compiled CLI (dist/src/cli.js), run as its own process. */
export const CLI = join(__dirname, '..', '..', 'src', 'cli.js');

export interface Node {
  proc: ChildProcess;
  /** The protocol endpoint, as the CLI printed it, e.g. `http://127.0.0.1:40123/pushlet/pushlet.srv`. */
  srv: string;
  /** Scheme, host and port of `srv`, for `/metrics` and `/health`. */
  base: string;
  exited: Promise<number | null>;
}

export interface NodeOptions {
  /** Flags for the node binary itself, before the script (e.g. `--max-old-space-size=96`). */
  execArgv?: string[];
}

/** Starts `pushlet-server` as its own process (the CLI), on a free port; resolves once it listens. */
export function startNode(args: string[] = [], opts: NodeOptions = {}): Promise<Node> {
  return new Promise((resolve, reject) => {
    // Info level: the start line, which names the port, is a log line.
    const argv = [...(opts.execArgv ?? []), CLI, '--port', '0', '--host', '127.0.0.1', '--set', 'log.level=4', '--set', 'sources.activate=false', ...args];
    const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    let out = '';
    let listening = false;
    proc.stdout!.on('data', (d: Buffer) => {
      if (listening) return;
      out += d;
      const m = /listening on (http:\/\/\S+\/pushlet\.srv)/.exec(out);
      if (m) {
        listening = true;
        resolve({ proc, srv: m[1], base: new URL(m[1]).origin, exited });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      if (!listening) out += d;
    });
    proc.on('exit', (code) => reject(new Error(`pushlet-server exited (${code}) before listening: ${out}`)));
  });
}

/** Settings of a cluster node on the test Redis (`npm test` starts it and sets PUSHLET_TEST_REDIS_URL). */
export function redisArgs(): string[] {
  const url = process.env.PUSHLET_TEST_REDIS_URL;
  if (!url) throw new Error('these tests need PUSHLET_TEST_REDIS_URL (npm test sets it)');
  return ['--redis', url, '--set', 'subject.match=exact', '--set', 'queue.read.timeout.millis=500'];
}

/** A live process's resident set size in bytes (Linux: VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}
