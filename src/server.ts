import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { loadConfig, type Config, type ConfigSources } from './config/config';
import type { AuthHook } from './core/auth';
import { SessionBinding } from './core/binding';
import { Controller } from './core/controller';
import { Dispatcher } from './core/dispatcher';
import type { Logger } from './logger';
import { defaultLogger } from './logging';
import { Aging } from './core/sessions';
import { Sources, type EventSource } from './core/sources';
import { createHttp, type Http } from './http/app';
import { Metrics } from './http/metrics';
import { HeldRequests } from './http/protocol';
import { normalizeCharset } from './protocol/charset';
import { E, F } from './protocol/constants';
import { event, type Fields } from './protocol/event';
import { loadAuthHook, loadSource } from './plugins';
import { MemoryStore } from './store/memory';
import { RedisStore } from './store/redis';
import type { Store, StoreSettings } from './store/store';
import { leaseMs } from './core/settings';

/** What a store is given, from the configuration: for a store made by hand (`ServerOptions.store`). */
export function storeSettings(c: Config): StoreSettings {
  return { leaseMs: leaseMs(c), queueSize: c.queueSize, subjectMatch: c.subjectMatch, pageSize: c.redisPagesize };
}

export interface ServerOptions {
  /** Path of a Java pushlet.properties file. */
  configFile?: string;
  /** Settings by property name (`queue.size`) or config key (`queueSize`); win over file and env. */
  overrides?: ConfigSources['overrides'];
  /** Environment to read settings from; default `process.env`. */
  env?: ConfigSources['env'];
  /** A store to use instead of the one the config selects; the caller starts it. */
  store?: Store;
  logger?: Logger;
  /** An authorisation hook; wins over the `auth.module` setting. */
  auth?: AuthHook;
  /** Event sources to run (each on one node of a cluster), beside those of `sources.list`. */
  sources?: EventSource[];
}

/** Where `attach()` and `koa()` serve the protocol and the bundled clients. */
export interface AttachOptions {
  /** The path prefix (a servlet context) they answer under; default the `context` setting. */
  path?: string;
}

/** A pushlet server: create, `listen`, publish from application code, `close`. */
export class PushletServer {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly metrics = new Metrics();
  private readonly http: Server;
  private readonly httpParts: Http;
  /** Undoes each `attach()`, at close. */
  private readonly detach: (() => void)[] = [];
  private storeStarting?: Promise<void>;
  private starting?: Promise<void>;
  private readonly aging: Aging;
  private readonly dispatcher: Dispatcher;
  private readonly sources: Sources;
  private readonly shutdown = new AbortController();
  /** A store passed in is started by its owner; one made from config is started here. */
  private readonly ownStore: boolean;
  private readonly open = new HeldRequests();
  private closing?: Promise<void>;

  constructor(opts: ServerOptions = {}) {
    // Held until the logger exists: log.level, which it needs, is among the settings being read.
    const warnings: string[] = [];
    this.config = loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides, warn: (m) => warnings.push(m) });
    const c = this.config;
    // loadConfig refused charsets it does not know.
    const requestCharset = normalizeCharset(c.requestCharset)!;
    const responseCharset = normalizeCharset(c.responseCharset)!;
    this.log = opts.logger ?? defaultLogger(c.logLevel);
    for (const w of warnings) this.log.warn(w);
    this.ownStore = !opts.store;
    this.store = opts.store ?? this.makeStore();
    this.dispatcher = new Dispatcher(this.store, c, this.log, this.metrics);
    const controller = new Controller(this.store, c, this.dispatcher, this.log, {
      auth: opts.auth ?? (c.authModule ? loadAuthHook(c.authModule) : undefined),
      binding: this.binding(),
    });
    this.aging = new Aging(this.store, c, this.log);
    const sources = [...(c.sourcesActivate ? c.sourcesList.map(loadSource) : []), ...(opts.sources ?? [])];
    this.sources = new Sources(sources, this.store, { publish: (subject, fields) => this.publish(subject, fields), log: this.log }, c.sourcesLeaseMillis);
    this.metrics.gauge('pushlet_held_requests', 'Open data-channel responses (stream, or pull waiting for events)', () => this.open.size);
    this.metrics.gauge('pushlet_sessions', 'Sessions in the store (all nodes)', () => this.store.countSessions());
    this.metrics.gauge('pushlet_subscriptions', 'Subscriptions in the store (all nodes)', () => this.countSubscriptions());
    const stats = this.store.stats?.bind(this.store);
    if (stats) {
      this.metrics.counter('pushlet_redis_commands_total', 'Redis commands sent by this node', () => stats().commands);
      this.metrics.counter('pushlet_redis_errors_total', 'Redis commands that failed on this node', () => stats().errors);
      this.metrics.counter('pushlet_redis_outages_total', 'Times a Redis server became unreachable from this node', () => stats().outages);
      this.metrics.gauge('pushlet_redis_up', '1 while every Redis server answers this node, else 0', () => (stats().down === 0 ? 1 : 0));
      this.metrics.gauge('pushlet_redis_keyspace_listening', '1 while this node listens to keyspace notifications for Java nodes\' pushes (redis.java.nodes)', () => (stats().keyspace ? 1 : 0));
    }
    if (this.store.outbox) {
      this.metrics.gauge('pushlet_publishes_behind', 'Publishes this node answered and has not fanned out yet (kept in Redis)', () => this.dispatcher.behind);
      this.metrics.counter('pushlet_publishes_adopted_total', 'Publishes of stopped nodes this node fanned out', () => this.dispatcher.adopted);
    }
    this.metrics.gauge('pushlet_sources_active', 'Event sources running on this node', () => this.sources.active.length);
    this.httpParts = createHttp({
      context: c.context,
      corsOrigins: c.corsOrigins,
      trustProxy: c.trustProxy,
      metrics: this.metrics,
      webappDir: c.webapp || undefined,
      protocol: {
        controller, store: this.store, settings: c, log: this.log,
        requestCharset, responseCharset, responseCharsetLabel: c.responseCharset,
        maxBodyBytes: c.limitBodyBytes,
        limits: { fields: c.limitFields, nameLength: c.limitFieldName, valueLength: c.limitFieldValue },
        metrics: this.metrics,
        shutdown: this.shutdown.signal,
        open: this.open,
        stopReceiver: (id, dropped, why) => this.dispatcher.bailOut(id, dropped, why),
      },
    });
    this.http = createHttpServer(this.httpParts.listener);
  }

  private binding(): SessionBinding | undefined {
    const c = this.config;
    if (c.sessionBind === 'none') {
      this.log.warn('session.bind=none: a session id is the only credential, and every receiver of its events sees it; set session.bind=cookie for browser-only deployments (docs/MIGRATING.md)');
      return undefined;
    }
    let secret = c.sessionBindSecret;
    if (!secret) {
      secret = randomBytes(32).toString('hex');
      this.log.warn('session.bind.secret is not set: using a random one, valid for this process only (set it on every node of a cluster)');
    }
    return new SessionBinding(secret);
  }

  /** The Redis store when `redis.serverlist` or `redis.url` is set, else the embedded one. */
  private makeStore(): Store {
    const c = this.config;
    // The embedded store pages for fairness between publishes, not for round trips: larger pages.
    if (!c.redisServerlist && !c.redisUrl) return new MemoryStore({ ...storeSettings(c), pageSize: 1000 });
    return new RedisStore({
      ...storeSettings(c),
      serverlist: c.redisServerlist || undefined,
      url: c.redisUrl || undefined,
      cluster: c.redisCluster,
      socketTimeoutMs: c.redisSocketto,
      pollIntervalMs: c.redisPollIntervalMillis,
      javaNodes: c.redisJavaNodes,
      adoptAfterMs: c.publishAdoptMillis,
      logger: this.log,
    });
  }

  /** Connects a store made here, once (a store passed in is started by its owner). */
  private openStore(): Promise<void> {
    this.storeStarting ??= this.ownStore ? this.store.start() : Promise.resolve();
    return this.storeStarting;
  }

  /** Starts the store, session aging and the event sources, once however often called. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      await this.openStore();
      this.aging.start();
      this.dispatcher.start();
      await this.sources.start();
    })();
    return this.starting;
  }

  /** Starts, and listens on its own port; resolves to the base URL, e.g. `http://127.0.0.1:8080`. */
  async listen(port = this.config.port, host = this.config.host): Promise<string> {
    // The store is ready before the first request; sources run once the port is ours.
    await this.openStore();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    await this.start();
    return this.url;
  }

  /**
   * Starts, and serves on an application's own `http.Server` (Socket.IO's `attach`): the
   * protocol at every path under `path` ending in `/pushlet.srv`, and the bundled clients at
   * `<path>/lib/*` and `<path>/js/*`. Its other requests go to the listeners it had. `close()`
   * gives them back; the application closes its server.
   */
  async attach(server: Server, opts: AttachOptions = {}): Promise<void> {
    const others = server.listeners('request') as RequestListener[];
    const ours = this.httpParts.mount(opts.path ?? this.config.context, (req, res) => {
      for (const l of others) l.call(server, req, res);
    });
    server.removeAllListeners('request');
    server.on('request', ours);
    this.detach.push(() => {
      server.off('request', ours);
      for (const l of others) server.on('request', l);
    });
    await this.start();
  }

  /**
   * The same as Koa middleware, for an application that is a Koa app: `app.use(pushlet.koa())`,
   * before any body parser (the protocol reads its own bodies). Call `start()` before the app
   * listens; the first protocol request starts the server otherwise.
   */
  koa(opts: AttachOptions = {}): Koa.Middleware {
    return this.httpParts.koa(opts.path ?? this.config.context, () => this.start());
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

  /** All subscriptions, a page of sessions at a time (one pipelined round trip a page on Redis). */
  private async countSubscriptions(): Promise<number> {
    let total = 0;
    for await (const ids of this.store.sessionIds()) {
      for (const subjects of await Promise.all(ids.map((id) => this.store.subscribedSubjects(id)))) total += subjects.length;
    }
    return total;
  }

  /** Sends to every session, whatever it subscribed to. */
  async broadcast(data: Record<string, string> = {}): Promise<number> {
    return (await this.dispatcher.broadcast(this.serverEvent(data))).delivered;
  }

  private serverEvent(data: Record<string, string>): Fields {
    return Object.assign(event(E.DATA), data, { [F.EVENT]: E.DATA });
  }

  /**
   * Stops: no new connections; held requests end with a refresh (their clients come back, to
   * another node in a cluster); timers stop; the store closes. Bounded by `graceMs`.
   */
  close(graceMs = 5000): Promise<void> {
    this.closing ??= this.shutDown(graceMs);
    return this.closing;
  }

  private async shutDown(graceMs: number): Promise<void> {
    const until = Date.now() + graceMs;
    this.shutdown.abort();
    for (const undo of this.detach.splice(0)) undo();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([this.open.drained(), grace]);
    this.http.closeAllConnections();
    await closed;
    await this.sources.stop();
    await this.aging.stop();
    // Publishes answered before their fan-out go out first, within the grace; any left stay
    // kept for another node.
    await this.dispatcher.drain(Math.max(0, until - Date.now()));
    this.dispatcher.close();
    await this.store.close();
  }
}

export function createServer(opts: ServerOptions = {}): PushletServer {
  return new PushletServer(opts);
}

