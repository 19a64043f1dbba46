import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { normalizeCharset } from '../protocol/charset';
import { JAVA_ONLY_KEYS } from './java-keys';
import { readProperties } from './properties';
import { findSourcesFile, sourcesFromFile } from './sources-file';
import { closest } from './suggest';
import { SETTINGS, type Config, type Setting } from '../settings';

export type { Config } from '../settings';

export class ConfigError extends Error {}

const ALL = SETTINGS as readonly Setting[];

/** Where a setting's value came from, for messages: its text as given and the source's name. */
interface Origin {
  raw: string;
  from: string;
}

function convert(s: Setting, { raw, from }: Origin): unknown {
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
    case 'cores': {
      if (v === 'auto') return availableParallelism();
      if (!/^\d+$/.test(v)) throw bad('must be a whole number >= 1, or auto');
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
  /**
   * Told, once each, what is wrong but does not stop the start: unknown keys of the file,
   * sources.properties entries that cannot run. The server logs them; without it they are dropped.
   */
  warn?: (message: string) => void;
}

/** Environment name of a property: `queue.size` -> `PUSHLET_QUEUE_SIZE`. */
export function envName(prop: string): string {
  return 'PUSHLET_' + prop.toUpperCase().replace(/[.-]/g, '_');
}

/** The `PUSHLET_*` variables that set something. */
const ENV_NAMES = new Set(ALL.flatMap((s) => [envName(s.prop), s.env ?? '']).filter((n) => n.startsWith('PUSHLET_')));

/**
 * Refuses a setting name that is not one, from flags or code: a typo there would otherwise start
 * the server with the default, unnoticed.
 */
function checkOverrideNames(overrides: ConfigSources['overrides']): void {
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === undefined || ALL.some((s) => s.prop === name || s.key === name)) continue;
    const near = closest(name, ALL.flatMap((s) => [s.prop, s.key])).name;
    throw new ConfigError(`unknown setting '${name}' (from option); did you mean '${near}'?`);
  }
}

/**
 * Whether a name `distance` edits from a known one is that name mistyped: one or two typos, and
 * at most one per three letters, so that short unrelated names are not taken for typos by chance.
 */
function likelyTypo(name: string, distance: number): boolean {
  return distance <= 2 && distance * 3 <= name.length;
}

/**
 * Refuses `PUSHLET_*` variables that look like a mistyped setting. The prefix is shared with
 * variables that are not settings (PUSHLET_CONFIG, tools' and tests' own), so only a likely typo
 * of a setting's name is taken for one; any other is none of ours and left alone.
 */
function checkEnvNames(env: Record<string, string | undefined>): void {
  for (const name of Object.keys(env)) {
    if (!name.startsWith('PUSHLET_') || ENV_NAMES.has(name) || env[name] === undefined) continue;
    const near = closest(name, ENV_NAMES);
    if (likelyTypo(name.slice('PUSHLET_'.length), near.distance)) {
      throw new ConfigError(`unknown setting ${name} (from env); did you mean ${near.name}?`);
    }
  }
}

/**
 * A pushlet.properties file may hold what Java knows and we do not: accepted quietly. Anything
 * else is warned about (not refused: Java ignores unknown keys, and a file must keep working).
 */
function checkFileKeys(props: Record<string, string>, file: string, warn: (m: string) => void): void {
  const known = ALL.map((s) => s.prop);
  for (const key of Object.keys(props)) {
    if (known.includes(key) || JAVA_ONLY_KEYS.has(key)) continue;
    const near = closest(key, known);
    warn(`${file}: unknown key '${key}' ignored${likelyTypo(key, near.distance) ? ` (did you mean '${near.name}'?)` : ''}`);
  }
}

export function loadConfig(src: ConfigSources = {}): Config {
  const warn = src.warn ?? (() => undefined);
  const env = src.env ?? {};
  const fileProps = src.file ? readProperties(src.file) : {};
  if (src.file) checkFileKeys(fileProps, src.file, warn);
  checkEnvNames(env);
  checkOverrideNames(src.overrides);
  const origins = new Map<string, Origin>();
  const out: Record<string, unknown> = {};
  for (const s of ALL) {
    let origin: Origin = { raw: s.def, from: 'default' };
    if (fileProps[s.prop] !== undefined) origin = { raw: fileProps[s.prop], from: src.file! };
    for (const name of [envName(s.prop), s.env]) {
      if (name && env[name] !== undefined && env[name] !== '') origin = { raw: env[name]!, from: `env ${name}` };
    }
    const o = src.overrides?.[s.prop] ?? src.overrides?.[s.key];
    if (o !== undefined) origin = { raw: String(o), from: 'option' };
    origins.set(s.key, origin);
    out[s.key] = convert(s, origin);
  }
  const c = out as unknown as Config;
  validate(c, origins);
  if (c.sourcesActivate && origins.get('sourcesList')!.from === 'default') c.sourcesList = javaSources(c, src.file, warn);
  return c;
}

/**
 * The sources to run when `sources.list` is not set: with a sources.properties, its entries; with
 * a pushlet.properties but none, no source (as Java); with no configuration file at all, the
 * built-in demo sources (the default list).
 */
function javaSources(c: Config, file: string | undefined, warn: (m: string) => void): string[] {
  const found = findSourcesFile(file, c.webapp);
  if (found) return sourcesFromFile(found, warn);
  if (!file) return c.sourcesList;
  warn(`sources.activate=true but there is no sources.properties beside ${file}${c.webapp ? ` or in ${c.webapp}/WEB-INF/classes` : ''}: no event source runs`);
  return [];
}

/** Whether `v` is a `proxy.trust` entry: `true`, `false`, an address or a CIDR range. */
function isProxyTrustEntry(v: string): boolean {
  if (v === 'true' || v === 'false') return true;
  const [ip, bits, extra] = v.split('/');
  const family = isIP(ip);
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
}

/** Checks between values and of ranges; each refusal names the key, the value as given and its source. */
function validate(c: Config, origins: Map<string, Origin>): void {
  const fail = (key: keyof Config, what: string) => {
    const s = ALL.find((x) => x.key === key)!;
    const { raw, from } = origins.get(key)!;
    throw new ConfigError(`${s.prop}: ${what}, got '${raw}' (from ${from})`);
  };
  if (c.port > 65535) fail('port', 'must be at most 65535');
  const least: [keyof Config, number][] = [
    ['queueSize', 1], ['sessionTimeoutMins', 1], ['sessionIdSize', 4], ['limitFields', 1], ['limitFieldName', 1],
    ['limitSubject', 1], ['limitBodyBytes', 1], ['agingIntervalMillis', 10], ['workers', 1],
  ];
  for (const [key, min] of least) if ((c[key] as number) < min) fail(key, `must be at least ${min}`);
  if (c.pullRefreshWaitMinMillis > c.pullRefreshWaitMaxMillis) fail('pullRefreshWaitMinMillis', `must not exceed pull.refresh.wait.max.millis (${c.pullRefreshWaitMaxMillis})`);
  if (c.pollRefreshWaitMinMillis > c.pollRefreshWaitMaxMillis) fail('pollRefreshWaitMinMillis', `must not exceed poll.refresh.wait.max.millis (${c.pollRefreshWaitMaxMillis})`);
  for (const key of ['requestCharset', 'responseCharset'] as const) {
    if (!normalizeCharset(c[key])) fail(key, 'unsupported charset');
  }
  const alone = c.trustProxy.length > 1 && c.trustProxy.some((v) => v === 'true' || v === 'false');
  if (alone || c.trustProxy.some((v) => !isProxyTrustEntry(v))) fail('trustProxy', 'must be true, false, or addresses and CIDR ranges such as 127.0.0.1,10.0.0.0/8');
  if (!c.context.startsWith('/')) c.context = '/' + c.context;
  c.context = c.context.replace(/\/+$/, '');
}
