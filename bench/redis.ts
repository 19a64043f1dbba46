import { spawn, type ChildProcess } from 'node:child_process';
import { accepts, freePort } from '../test/support/net';
import Redis from 'ioredis';
import { sleep } from './stats';

export const REDIS_BIN = '/usr/bin/redis-server';

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

  async stop(): Promise<void> {
    this.admin.disconnect();
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
