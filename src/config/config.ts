import { isIP } from 'node:net';
import { readProperties } from './properties';

/**
 * The whole configuration, one typed object. Sources, later winning: defaults (those of the
 * Java Redis fork's shipped pushlet.properties), the properties file, environment, flags.
 */
export interface Config {
  port: number;
  host: string;
  /** Context path of the servlet, e.g. `/pushlet`; every path ending in `/pushlet.srv` is served anyway. */
  context: string;
  sessionIdGeneration: 'uuid' | 'randomstring';
  sessionIdSize: number;
  sessionTimeoutMins: number;
  /** Lease in ms; when set, wins over session.timeout.mins (for short leases in tests). */
  sessionLeaseMillis: number;
  queueSize: number;
  queueReadTimeoutMillis: number;
  queueWriteTimeoutMillis: number;
  deliveryBatchMaxMillis: number;
  listenForcePullAll: boolean;
  listenForcePullAgents: string[];
  pullRefreshTimeoutMillis: number;
  pullRefreshWaitMinMillis: number;
  pullRefreshWaitMaxMillis: number;
  pollRefreshTimeoutMillis: number;
  pollRefreshWaitMinMillis: number;
  pollRefreshWaitMaxMillis: number;
  sourcesActivate: boolean;
  /** Sources to run: built-in names (ping, ticker, temperature) or paths of source modules. */
  sourcesList: string[];
  /** How long a node's hold on a source lasts without renewal: the takeover time when it dies. */
  sourcesLeaseMillis: number;
  logLevel: number;
  /** `host:port[:password]`, comma-separated; empty: the embedded store. */
  redisServerlist: string;
  redisPagesize: number;
  redisSocketto: number;
  redisMinconn: number;
  redisMaxconn: number;
  /** A `redis://` URL; an alternative to `redis.serverlist`. */
  redisUrl: string;
  /** Treat the Redis servers as startup nodes of a Redis Cluster. */
  redisCluster: boolean;
  /** Only where Redis refuses keyspace notifications: how often waiting requests check their queue. */
  redisPollIntervalMillis: number;
  /** Charset of percent-escaped bytes in requests (a POST's Content-Type charset wins). */
  requestCharset: string;
  responseCharset: string;
  /** `prefix` (original Pushlets) or `exact` (Redis fork); see PROTOCOL.md section 10. */
  subjectMatch: 'prefix' | 'exact';
  /** How often the aging pass runs (Java: 60 s). */
  agingIntervalMillis: number;
  /** Limits on what clients may send; each refusal says which limit. */
  limitSessions: number;
  limitSubscriptions: number;
  /** New sessions one client address may open within one session lease, per node. */
  limitSessionsPerAddress: number;
  /** Single subjects (comma-separated parts) all subscriptions of one session may list together. */
  limitSubjectParts: number;
  limitFields: number;
  limitFieldName: number;
  limitFieldValue: number;
  limitSubject: number;
  limitBodyBytes: number;
  /** Unsent output one data channel may hold (stream) or one pull answer may carry. */
  limitOutputBytes: number;
  /** Whether clients may publish at all (false: only server-side code publishes). */
  publishClients: boolean;
  /** Whether clients may unicast with `p_to`. */
  publishUnicast: boolean;
  /** Path of an authorisation hook module (see docs/SECURITY.md). */
  authModule: string;
  /** `none` (Java's behaviour) or `cookie`: bind a session to the browser that joined it. */
  sessionBind: 'none' | 'cookie';
  /** Key for the session-binding cookie's HMAC; shared by every node of a cluster. */
  sessionBindSecret: string;
  /** Origins allowed to call from other sites (CORS): `*` or a comma-separated list; empty: none. */
  corsOrigins: string[];
  /** X-Forwarded-For is believed from: `false` (no one), `true` (any peer), or these proxies' addresses and CIDR ranges. */
  trustProxy: string[];
  /** Folder of an old web application's pages to serve under the context. */
  webapp: string;
}

/** `list`: comma-separated; `lclist`: the same, lower-cased (user agents, origins). */
type Kind = 'int' | 'bool' | 'string' | 'list' | 'lclist' | readonly string[];

interface Setting {
  key: keyof Config;
  prop: string;
  kind: Kind;
  def: string;
  env?: string;
}

/** Every setting: property name (as in pushlet.properties), type, default. */
export const SETTINGS: readonly Setting[] = [
  { key: 'port', prop: 'port', kind: 'int', def: '8080', env: 'PORT' },
  { key: 'host', prop: 'host', kind: 'string', def: '0.0.0.0', env: 'HOST' },
  { key: 'context', prop: 'context', kind: 'string', def: '/pushlet', env: 'PUSHLET_CONTEXT' },
  { key: 'sessionIdGeneration', prop: 'session.id.generation', kind: ['uuid', 'randomstring'], def: 'uuid' },
  { key: 'sessionIdSize', prop: 'session.id.size', kind: 'int', def: '10' },
  { key: 'sessionTimeoutMins', prop: 'session.timeout.mins', kind: 'int', def: '3' },
  { key: 'sessionLeaseMillis', prop: 'session.lease.millis', kind: 'int', def: '0' },
  { key: 'queueSize', prop: 'queue.size', kind: 'int', def: '256' },
  { key: 'queueReadTimeoutMillis', prop: 'queue.read.timeout.millis', kind: 'int', def: '20000' },
  { key: 'queueWriteTimeoutMillis', prop: 'queue.write.timeout.millis', kind: 'int', def: '20000' },
  { key: 'deliveryBatchMaxMillis', prop: 'delivery.batch.max.millis', kind: 'int', def: '50' },
  { key: 'listenForcePullAll', prop: 'listen.force.pull.all', kind: 'bool', def: 'false' },
  { key: 'listenForcePullAgents', prop: 'listen.force.pull.agents', kind: 'lclist', def: 'safari' },
  { key: 'pullRefreshTimeoutMillis', prop: 'pull.refresh.timeout.millis', kind: 'int', def: '45000' },
  { key: 'pullRefreshWaitMinMillis', prop: 'pull.refresh.wait.min.millis', kind: 'int', def: '2000' },
  { key: 'pullRefreshWaitMaxMillis', prop: 'pull.refresh.wait.max.millis', kind: 'int', def: '6000' },
  { key: 'pollRefreshTimeoutMillis', prop: 'poll.refresh.timeout.millis', kind: 'int', def: '60000' },
  { key: 'pollRefreshWaitMinMillis', prop: 'poll.refresh.wait.min.millis', kind: 'int', def: '6000' },
  { key: 'pollRefreshWaitMaxMillis', prop: 'poll.refresh.wait.max.millis', kind: 'int', def: '10000' },
  { key: 'sourcesActivate', prop: 'sources.activate', kind: 'bool', def: 'true' },
  { key: 'sourcesList', prop: 'sources.list', kind: 'list', def: 'ping,ticker,temperature' },
  { key: 'sourcesLeaseMillis', prop: 'sources.lease.millis', kind: 'int', def: '10000' },
  { key: 'logLevel', prop: 'log.level', kind: 'int', def: '4' },
  { key: 'redisServerlist', prop: 'redis.serverlist', kind: 'string', def: '' },
  { key: 'redisPagesize', prop: 'redis.pagesize', kind: 'int', def: '100' },
  { key: 'redisSocketto', prop: 'redis.socketto', kind: 'int', def: '2000' },
  { key: 'redisMinconn', prop: 'redis.minconn', kind: 'int', def: '2' },
  { key: 'redisMaxconn', prop: 'redis.maxconn', kind: 'int', def: '20' },
  { key: 'redisUrl', prop: 'redis.url', kind: 'string', def: '', env: 'REDIS_URL' },
  { key: 'redisCluster', prop: 'redis.cluster', kind: 'bool', def: 'false' },
  { key: 'redisPollIntervalMillis', prop: 'redis.poll.interval.millis', kind: 'int', def: '200' },
  { key: 'requestCharset', prop: 'request.charset', kind: 'string', def: 'UTF-8' },
  { key: 'responseCharset', prop: 'response.charset', kind: 'string', def: 'UTF-8' },
  { key: 'subjectMatch', prop: 'subject.match', kind: ['prefix', 'exact'], def: 'prefix' },
  { key: 'agingIntervalMillis', prop: 'session.aging.interval.millis', kind: 'int', def: '60000' },
  { key: 'limitSessions', prop: 'limit.sessions', kind: 'int', def: '100000' },
  { key: 'limitSubscriptions', prop: 'limit.subscriptions.per.session', kind: 'int', def: '100' },
  { key: 'limitSessionsPerAddress', prop: 'limit.sessions.per.address', kind: 'int', def: '1000' },
  { key: 'limitSubjectParts', prop: 'limit.subject.parts.per.session', kind: 'int', def: '200' },
  { key: 'limitFields', prop: 'limit.fields.per.event', kind: 'int', def: '100' },
  { key: 'limitFieldName', prop: 'limit.field.name.length', kind: 'int', def: '256' },
  { key: 'limitFieldValue', prop: 'limit.field.value.length', kind: 'int', def: '65536' },
  { key: 'limitSubject', prop: 'limit.subject.length', kind: 'int', def: '1024' },
  { key: 'limitBodyBytes', prop: 'limit.body.bytes', kind: 'int', def: '1048576' },
  { key: 'limitOutputBytes', prop: 'limit.output.bytes', kind: 'int', def: '1048576' },
  { key: 'publishClients', prop: 'publish.clients', kind: 'bool', def: 'true' },
  { key: 'publishUnicast', prop: 'publish.unicast', kind: 'bool', def: 'true' },
  { key: 'authModule', prop: 'auth.module', kind: 'string', def: '' },
  { key: 'sessionBind', prop: 'session.bind', kind: ['none', 'cookie'], def: 'none' },
  { key: 'sessionBindSecret', prop: 'session.bind.secret', kind: 'string', def: '', env: 'PUSHLET_BIND_SECRET' },
  { key: 'corsOrigins', prop: 'cors.origins', kind: 'lclist', def: '' },
  { key: 'trustProxy', prop: 'proxy.trust', kind: 'lclist', def: 'false' },
  { key: 'webapp', prop: 'webapp', kind: 'string', def: '', env: 'PUSHLET_WEBAPP' },
];

export class ConfigError extends Error {}

function convert(s: Setting, raw: string, from: string): unknown {
  const v = raw.trim();
  const bad = (what: string) => new ConfigError(`${s.prop}: ${what}, got '${raw}' (from ${from})`);
  if (Array.isArray(s.kind)) {
    if (!s.kind.includes(v)) throw bad(`must be one of ${s.kind.join(', ')}`);
    return v;
  }
  switch (s.kind) {
    case 'int': {
      if (!/^\d+$/.test(v)) throw bad('must be a whole number >= 0');
      return Number(v);
    }
    case 'bool': {
      if (!/^(true|false)$/i.test(v)) throw bad('must be true or false');
      return v.toLowerCase() === 'true';
    }
    case 'list':
    case 'lclist':
      return v.split(',').map((x) => (s.kind === 'lclist' ? x.trim().toLowerCase() : x.trim())).filter(Boolean);
    default:
      return v;
  }
}

export interface ConfigSources {
  /** Path of a pushlet.properties file. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Property name (or config key) -> value, e.g. from command-line flags or code. */
  overrides?: Record<string, string | number | boolean | undefined>;
}

/** Environment name of a property: `queue.size` -> `PUSHLET_QUEUE_SIZE`. */
export function envName(prop: string): string {
  return 'PUSHLET_' + prop.toUpperCase().replace(/[.-]/g, '_');
}

export function loadConfig(src: ConfigSources = {}): Config {
  const env = src.env ?? {};
  const fileProps = src.file ? readProperties(src.file) : {};
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    let raw = s.def;
    let from = 'default';
    if (fileProps[s.prop] !== undefined) { raw = fileProps[s.prop]; from = src.file!; }
    for (const name of [envName(s.prop), s.env]) {
      if (name && env[name] !== undefined && env[name] !== '') { raw = env[name]!; from = `env ${name}`; }
    }
    const o = src.overrides?.[s.prop] ?? src.overrides?.[s.key];
    if (o !== undefined) { raw = String(o); from = 'option'; }
    out[s.key] = convert(s, raw, from);
  }
  const c = out as unknown as Config;
  validate(c);
  return c;
}

/** Whether `v` is a `proxy.trust` entry: `true`, `false`, an address or a CIDR range. */
function isProxyTrustEntry(v: string): boolean {
  if (v === 'true' || v === 'false') return true;
  const [ip, bits, extra] = v.split('/');
  const family = isIP(ip);
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
}

function validate(c: Config): void {
  const fail = (msg: string) => { throw new ConfigError(msg); };
  if (c.port > 65535) fail(`port: must be at most 65535, got ${c.port}`);
  if (c.queueSize < 1) fail('queue.size: must be at least 1');
  if (c.sessionTimeoutMins < 1) fail('session.timeout.mins: must be at least 1');
  if (c.sessionIdSize < 4) fail('session.id.size: must be at least 4');
  for (const [k, v] of [['limit.fields.per.event', c.limitFields], ['limit.field.name.length', c.limitFieldName], ['limit.subject.length', c.limitSubject], ['limit.body.bytes', c.limitBodyBytes]] as const) {
    if (v < 1) fail(`${k}: must be at least 1`);
  }
  if (c.agingIntervalMillis < 10) fail('session.aging.interval.millis: must be at least 10');
  if (c.pullRefreshWaitMinMillis > c.pullRefreshWaitMaxMillis) fail('pull.refresh.wait.min.millis: must not exceed pull.refresh.wait.max.millis');
  if (c.pollRefreshWaitMinMillis > c.pollRefreshWaitMaxMillis) fail('poll.refresh.wait.min.millis: must not exceed poll.refresh.wait.max.millis');
  const alone = c.trustProxy.length > 1 && c.trustProxy.some((v) => v === 'true' || v === 'false');
  const badProxy = alone ? c.trustProxy.join(',') : c.trustProxy.find((v) => !isProxyTrustEntry(v));
  if (badProxy !== undefined) fail(`proxy.trust: must be true, false, or addresses and CIDR ranges such as 127.0.0.1,10.0.0.0/8, got '${badProxy}'`);
  if (!c.context.startsWith('/')) c.context = '/' + c.context;
  c.context = c.context.replace(/\/+$/, '');
}
