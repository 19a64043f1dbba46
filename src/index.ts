import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { ConfigError, loadConfig, type Config, type ConfigSources } from './config/config';
import { Controller } from './core/controller';
import { Dispatcher } from './core/dispatcher';
import type { Logger } from './core/log';
import { Aging } from './core/sessions';
import { createApp } from './http/app';
import { normalizeCharset } from './protocol/charset';
import { E, F } from './protocol/constants';
import { event, type Fields } from './protocol/event';
import { MemoryStore } from './store/memory';
import type { Store } from './store/store';

export type { Config } from './config/config';
export type { Store } from './store/store';
export type { Fields } from './protocol/event';

export interface ServerOptions {
  /** Path of a Java pushlet.properties file. */
  configFile?: string;
  /** Settings by property name (`queue.size`) or config key (`queueSize`); win over file and env. */
  overrides?: ConfigSources['overrides'];
  /** Environment to read settings from; default `process.env`. */
  env?: ConfigSources['env'];
  /** A store to use instead of the one the config selects. */
  store?: Store;
  logger?: Logger;
}

/** pino level for Java's `log.level` (1 fatal ... 6 trace; 0 silences). */
function pinoLevel(level: number): pino.LevelWithSilent {
  return (['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const)[Math.min(level, 6)];
}

/** A pushlet server: create, `listen`, publish from application code, `close`. */
export class PushletServer {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  private readonly http: Server;
  private readonly aging: Aging;
  private readonly dispatcher: Dispatcher;
  private readonly shutdown = new AbortController();

  constructor(opts: ServerOptions = {}) {
    this.config = loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides });
    const c = this.config;
    const requestCharset = normalizeCharset(c.requestCharset);
    const responseCharset = normalizeCharset(c.responseCharset);
    if (!requestCharset) throw new ConfigError(`request.charset: unsupported charset '${c.requestCharset}'`);
    if (!responseCharset) throw new ConfigError(`response.charset: unsupported charset '${c.responseCharset}'`);
    this.log = opts.logger ?? pino({ level: pinoLevel(c.logLevel) });
    this.store = opts.store ?? this.makeStore();
    this.dispatcher = new Dispatcher(this.store, c, this.log, (id, temporary) => this.store.stopSession(id, !temporary));
    const controller = new Controller(this.store, c, this.dispatcher, this.log);
    this.aging = new Aging(this.store, c, this.log);
    const app = createApp({
      context: c.context,
      protocol: {
        controller, store: this.store, settings: c, log: this.log,
        requestCharset, responseCharset, responseCharsetLabel: c.responseCharset,
        maxBodyBytes: 1024 * 1024, shutdown: this.shutdown.signal,
      },
    });
    this.http = createHttpServer(app.callback());
  }

  private makeStore(): Store {
    if (this.config.redisServerlist || this.config.redisUrl) {
      throw new ConfigError('redis.serverlist / redis.url: the Redis store is not built into this version');
    }
    return new MemoryStore();
  }

  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:8080`. */
  async listen(port = this.config.port, host = this.config.host): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.aging.start();
    return this.url;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Publishes to every session subscribed to `subject` (as a client's publish, with no sender). */
  async publish(subject: string, data: Record<string, string> = {}): Promise<number> {
    const e = this.serverEvent(data);
    e[F.SUBJECT] = subject;
    return (await this.dispatcher.multicast(e, false)).delivered;
  }

  /** Sends to one session (as `p_to`); 0 when it does not exist. */
  async unicast(id: string, data: Record<string, string> = {}): Promise<number> {
    const e = this.serverEvent(data);
    e[F.TO] = id;
    return (await this.dispatcher.unicast(e, id, false)).delivered;
  }

  private serverEvent(data: Record<string, string>): Fields {
    return Object.assign(event(E.DATA), data, { [F.EVENT]: E.DATA });
  }

  /** Stops: held requests end, timers stop, the store closes. */
  async close(): Promise<void> {
    this.shutdown.abort();
    await this.aging.stop();
    this.dispatcher.close();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    await this.store.close();
  }
}

export function createServer(opts: ServerOptions = {}): PushletServer {
  return new PushletServer(opts);
}

export { ConfigError, loadConfig };
