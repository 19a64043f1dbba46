import { isIP } from 'node:net';
import { normalizeCharset } from '../protocol/charset';
import { readProperties } from './properties';
import { SETTINGS, type Config, type Setting } from '../settings';

export type { Config } from '../settings';

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
  for (const s of SETTINGS as readonly Setting[]) {
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
  for (const [k, v] of [['request.charset', c.requestCharset], ['response.charset', c.responseCharset]] as const) {
    if (!normalizeCharset(v)) fail(`${k}: unsupported charset '${v}'`);
  }
  const alone = c.trustProxy.length > 1 && c.trustProxy.some((v) => v === 'true' || v === 'false');
  const badProxy = alone ? c.trustProxy.join(',') : c.trustProxy.find((v) => !isProxyTrustEntry(v));
  if (badProxy !== undefined) fail(`proxy.trust: must be true, false, or addresses and CIDR ranges such as 127.0.0.1,10.0.0.0/8, got '${badProxy}'`);
  if (!c.context.startsWith('/')) c.context = '/' + c.context;
  c.context = c.context.replace(/\/+$/, '');
}
