#!/usr/bin/env node
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { envName } from './config/config';
import { normalizeContext } from './http/static';
import { ConfigError, createServer, loadConfig, StoreUnavailableError, type Config, type Logger } from './index';
import { defaultLogger } from './logging';
import { SETTINGS } from './settings';
import { WorkerStartFailure, Workers, type WorkerMessage } from './workers';

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
  --workers N|auto    run N server processes on the port, auto: one per core (default 1; needs Redis)
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

/** The first log line: where the endpoint and the demo are, the store, and the workers if more than one. */
function startLine(c: Config, url: string): string {
  const context = normalizeContext(c.context);
  const workers = c.workers > 1 ? `; ${c.workers} workers` : '';
  return `pushlet-server ${VERSION} listening on ${url}${context}/pushlet.srv; demo page ${url}${context}/demo/; store ${storeLabel(c)}${workers}`;
}

/** On SIGTERM or SIGINT, once: `close`, then exit with the code it resolves to. */
function stopOnSignals(log: Logger, close: () => Promise<number>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    close().then((code) => process.exit(code), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * The primary of `--workers N`: forks the workers (each runs this command as one server) and
 * runs no server itself.
 */
async function primary(c: Config): Promise<void> {
  // Each worker would hold its own sessions: a request would find its session on one worker in N.
  if (!c.redisUrl && !c.redisServerlist) {
    throw new ConfigError(`workers=${c.workers} needs the Redis store (each worker would keep its own sessions in memory): set --redis (redis.url) or redis.serverlist`);
  }
  const log = defaultLogger(c.logLevel);
  const env: Record<string, string> = {};
  if (c.sessionBind === 'cookie' && !c.sessionBindSecret) {
    // One secret for all workers, or a cookie set by one would be refused by the others.
    env.PUSHLET_BIND_SECRET = randomBytes(32).toString('hex');
    log.warn('session.bind.secret is not set: using a random one, valid for these workers only (set it on every node of a cluster)');
  }
  const workers = new Workers(c.workers, log, env);
  const url = await workers.start();
  log.info(startLine(c, url));
  stopOnSignals(log, () => workers.stop());
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
  if (err instanceof ConfigError || err instanceof WorkerStartFailure) return err.message;
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
      workers: { type: 'string' },
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
  for (const k of ['port', 'host', 'context', 'webapp', 'workers'] as const) if (values[k] !== undefined) overrides[k] = values[k]!;
  if (values.redis !== undefined) overrides['redis.url'] = values.redis;
  const configFile = values.config ?? (process.env.PUSHLET_CONFIG || undefined);
  if (configFile !== undefined) checkConfigFile(configFile, values.config !== undefined ? '--config' : 'PUSHLET_CONFIG');

  // Only the command's own process decides on workers; a worker runs this again as one server.
  if (cluster.isPrimary) {
    const config = loadConfig({ file: configFile, env: process.env, overrides });
    if (config.workers > 1) return primary(config);
  }

  const server = createServer({ configFile, overrides });
  const url = await server.listen();
  if (cluster.isWorker) process.send!({ listening: url } satisfies WorkerMessage);
  else server.log.info(startLine(server.config, url));
  stopOnSignals(server.log, () => {
    setTimeout(() => process.exit(1), 10_000).unref();
    return server.close().then(() => 0);
  });
}

main().catch((err: unknown) => {
  // What a user can fix is one line and exit code 2; anything else is a bug, shown with its stack.
  const line = startFailure(err);
  // A worker's reason goes to the primary, which says it once for all of them.
  if (cluster.isWorker && line !== undefined) return process.send!({ startFailure: line } satisfies WorkerMessage, () => process.exit(2));
  console.error(line === undefined ? err : `pushlet-server: ${line}`);
  process.exit(line === undefined ? 1 : 2);
});
