import { spawn, type ChildProcess } from 'node:child_process';
import { accepts, freePort } from '../test/support/net';
import Redis from 'ioredis';
import { sleep } from './stats';

export const REDIS_BIN = '/usr/bin/redis-server';

export interface RedisUsage {
  cpuMs: number;
  /** Calls per command name, those run by scripts included. */
  calls: Record<string, number>;
}

/** What Redis did between two `usage()` readings: CPU ms and calls per command, most first. */
export function usageBetween(a: RedisUsage, b: RedisUsage): { cpuMs: number; calls: Record<string, number>; total: number } {
  const calls = Object.entries(b.calls)
    .map(([name, n]): [string, number] => [name, n - (a.calls[name] ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((x, y) => y[1] - x[1]);
  return { cpuMs: b.cpuMs - a.cpuMs, calls: Object.fromEntries(calls), total: calls.reduce((t, [, n]) => t + n, 0) };
}

/** A throwaway redis-server on a free loopback port, without persistence. */
export class RedisServer {
  private constructor(private readonly proc: ChildProcess, readonly url: string, readonly admin: Redis) {}

  static async start(): Promise<RedisServer> {
    const port = await freePort();
    const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let tries = 0; !(await accepts(port)); tries++) {
      if (tries >= 50) {
        proc.kill();
        throw new Error(`redis-server did not start on port ${port}`);
      }
      await sleep(100);
    }
    return new RedisServer(proc, `redis://127.0.0.1:${port}`, new Redis({ host: '127.0.0.1', port }));
  }

  /** Numeric fields of `INFO stats` (commands processed, reads processed...). */
  async stats(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const line of (await this.admin.info('stats')).split('\r\n')) {
      const [k, v] = line.split(':');
      if (v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
    }
    return out;
  }

  /** CPU time Redis has used (ms, all its threads) and calls per command so far (`INFO cpu`, `INFO commandstats`). */
  async usage(): Promise<RedisUsage> {
    const info = await this.admin.info('everything');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
    const calls: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
    return { cpuMs: 1000 * (field('used_cpu_sys') + field('used_cpu_user')), calls };
  }

  async stop(): Promise<void> {
    this.admin.disconnect();
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
