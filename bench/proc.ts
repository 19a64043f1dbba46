import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ServerSpec {
  /** `net`: the node:net prototype of bench/net-bare.ts (issue 16). */
  kind: 'pushlet' | 'bare' | 'net';
  /** pushlet.properties settings for the pushlet server. */
  overrides?: Record<string, string | number | boolean>;
  /** Run the pushlet server on the Redis store at this URL. */
  redisUrl?: string;
}

export type ToServer = { type: 'stats'; gc?: boolean } | { type: 'stop' };
export type FromServer =
  | { type: 'ready'; url: string }
  | { type: 'failed'; message: string }
  | { type: 'stats'; rss: number; heapUsed: number; young: number; cpu: NodeJS.CpuUsage };

export interface ServerStats {
  rss: number;
  /** V8 heap in use (part of rss). */
  heapUsed: number;
  /**
   * The young generation's reserved size (part of rss): V8 grows it to a fixed maximum (32 MB
   * here) once a process allocates briskly, whatever the number of clients.
   */
  young: number;
  /** User + system CPU time so far, ms. */
  cpuMs: number;
  /** When taken (performance.now() of the bench process). */
  at: number;
}

export interface ProcOptions {
  /** Write a V8 CPU profile of the server process into this folder (node --cpu-prof). */
  profileDir?: string;
}

/** A server under test running in a child process (bench/server.ts). */
export class ServerProcess {
  private constructor(private readonly child: ChildProcess, readonly url: string, readonly spec: ServerSpec) {}

  static async start(spec: ServerSpec, opts: ProcOptions = {}): Promise<ServerProcess> {
    const execArgv = ['--expose-gc'];
    if (opts.profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`);
    const child = fork(join(__dirname, 'server.js'), [JSON.stringify(spec)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (m: FromServer) => {
        if (m.type === 'ready') resolve(m.url);
        else reject(new Error(`${spec.kind} server failed to start: ${m.type === 'failed' ? m.message : m.type}`));
      });
      child.once('exit', (code) => reject(new Error(`${spec.kind} server exited with code ${code} before it was ready`)));
    });
    return new ServerProcess(child, url, spec);
  }

  /** RSS and CPU time of the server; `gc` collects garbage first (for memory figures). */
  stats(gc = false): Promise<ServerStats> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromServer) => {
        if (m.type !== 'stats') return;
        this.child.off('message', onMessage);
        resolve({ rss: m.rss, heapUsed: m.heapUsed, young: m.young, cpuMs: (m.cpu.user + m.cpu.system) / 1000, at: performance.now() });
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'stats', gc } satisfies ToServer, (err) => err && reject(err));
    });
  }

  /** Stops the server and waits for its process to exit (and write its profile). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies ToServer);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Server CPU use between two stats, as a percentage of one core. */
export function cpuPercent(a: ServerStats, b: ServerStats): number {
  return (100 * (b.cpuMs - a.cpuMs)) / (b.at - a.at);
}
