#!/usr/bin/env node
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { envName } from './config/config';
import { normalizeContext } from './http/static';
import { ConfigError, createServer, StoreUnavailableError, type Config } from './index';
import { SETTINGS } from './settings';

/** The package's version (this file runs as dist/src/cli.js). */
const VERSION = (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The settings --help shows, with their defaults and meanings from the settings table. */
const MOST_USED = [
  'session.timeout.mins', 'queue.size', 'queue.read.timeout.millis', 'subject.match', 'listen.force.pull.agents',
  'sources.activate', 'session.bind', 'cors.origins', 'proxy.trust', 'redis.serverlist', 'request.charset', 'log.level',
];

function usage(): string {
  const settings = MOST_USED.map((prop) => {
    const s = SETTINGS.find((x) => x.prop === prop)!;
    return `  ${`${prop}=${s.def}`.padEnd(34)}${s.doc.replace(/`/g, '')}`;
  });
  return `Usage: pushlet-server [options]

Serves the Pushlet protocol at every path ending in /pushlet.srv, the browser clients at
<context>/lib/, and a demo page at <context>/demo/.

Options:
  --config FILE       a Java pushlet.properties file (env PUSHLET_CONFIG)
  --port N            port to listen on (default 8080; env PORT)
  --host ADDR         address to listen on (default 0.0.0.0; env HOST)
  --context PATH      where the clients, the demo and the webapp are served (default /pushlet)
  --webapp DIR        an old WAR's page folder, served as is under the context (env PUSHLET_WEBAPP)
  --redis URL         keep state in Redis: redis://, rediss:// or redis-sentinel:// (env REDIS_URL);
                      without it (nor redis.serverlist) the embedded in-memory store
  --set NAME=VALUE    any setting, repeatable: --set queue.size=512
  -h, --help          this text
  -v, --version       the version

Most used settings (--set NAME=VALUE; env PUSHLET_<NAME>, e.g. ${envName('queue.size')}=512; or the file):
${settings.join('\n')}

Every setting: README.md, "Configuration". Later sources win: defaults, file, environment, flags.`;
}

/** What the start line names as the store: `embedded`, or the Redis servers without passwords. */
function storeLabel(c: Config): string {
  if (c.redisUrl) return `redis ${c.redisUrl.replace(/\/\/[^@/]*@/, '//')}${c.redisCluster ? ' (cluster)' : ''}`;
  if (c.redisServerlist) {
    const servers = c.redisServerlist.split(',').map((e) => e.trim().split(':').slice(0, 2).join(':')).filter(Boolean);
    return `redis ${servers.join(',')}${c.redisCluster ? ' (cluster)' : ''}`;
  }
  return 'embedded';
}

/** The properties file named by --config or PUSHLET_CONFIG must be a readable file. */
function checkConfigFile(file: string, from: string): void {
  let ok: boolean;
  try {
    ok = statSync(file).isFile();
    readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${from} ${file}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code})`}; give the path of a pushlet.properties file`);
  }
  if (!ok) throw new ConfigError(`${from} ${file}: not a file; give the path of a pushlet.properties file`);
}

/** One line saying what stopped the start and what to do, for the failures a user can fix. */
function startFailure(err: unknown): string | undefined {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof StoreUnavailableError) {
    return `${err.message}: start it there, or point --redis (redis.url) or redis.serverlist at a running Redis`;
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const code = String(e.code ?? '');
  if (code.startsWith('ERR_PARSE_ARGS')) return `${e.message.split('. ')[0]}; see pushlet-server --help`;
  const where = `${e.address ?? ''}:${e.port ?? ''}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${where} is in use: stop what holds it, or choose another --port`;
    case 'EACCES':
      return `${where}: permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE, or choose another --port`;
    case 'EADDRNOTAVAIL':
      return `host ${e.address}: not an address of this machine; set --host to one of its addresses, or 0.0.0.0 for all`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${e.hostname}: unknown host name; set --host to an address of this machine, or 0.0.0.0 for all`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      context: { type: 'string' },
      webapp: { type: 'string' },
      redis: { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return console.log(usage());
  if (values.version) return console.log(VERSION);

  const overrides: Record<string, string> = {};
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 1) throw new ConfigError(`--set ${kv}: expected NAME=VALUE, e.g. --set queue.size=512`);
    overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  for (const k of ['port', 'host', 'context', 'webapp'] as const) if (values[k] !== undefined) overrides[k] = values[k]!;
  if (values.redis !== undefined) overrides['redis.url'] = values.redis;
  const configFile = values.config ?? (process.env.PUSHLET_CONFIG || undefined);
  if (configFile !== undefined) checkConfigFile(configFile, values.config !== undefined ? '--config' : 'PUSHLET_CONFIG');

  const server = createServer({ configFile, overrides });
  const url = await server.listen();
  const context = normalizeContext(server.config.context);
  server.log.info(`pushlet-server ${VERSION} listening on ${url}${context}/pushlet.srv; demo page ${url}${context}/demo/; store ${storeLabel(server.config)}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // What a user can fix is one line and exit code 2; anything else is a bug, shown with its stack.
  const line = startFailure(err);
  console.error(line === undefined ? err : `pushlet-server: ${line}`);
  process.exit(line === undefined ? 1 : 2);
});
