#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, createServer } from './index';

const USAGE = `Usage: pushlet-server [options] [--set property=value ...]

  --config FILE     a Java pushlet.properties file (or env PUSHLET_CONFIG)
  --port N          port to listen on (default 8080, or env PORT)
  --host ADDR       address to listen on (default 0.0.0.0, or env HOST)
  --context PATH    servlet context path (default /pushlet)
  --redis URL       use the Redis store at this URL (or env REDIS_URL)
  --set K=V         any pushlet.properties setting, e.g. --set queue.size=512
  --help            this text

Any setting may also come from the environment as PUSHLET_<NAME>, e.g. PUSHLET_QUEUE_SIZE=512.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      context: { type: 'string' },
      redis: { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const overrides: Record<string, string> = {};
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 1) throw new ConfigError(`--set ${kv}: expected property=value`);
    overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  for (const k of ['port', 'host', 'context'] as const) if (values[k] !== undefined) overrides[k] = values[k]!;
  if (values.redis !== undefined) overrides['redis.url'] = values.redis;

  const server = createServer({ configFile: values.config ?? process.env.PUSHLET_CONFIG, overrides });
  const url = await server.listen();
  const store = server.config.redisServerlist || server.config.redisUrl ? 'redis' : 'embedded (in-memory)';
  console.log(`pushlet-server listening on ${url}${server.config.context}/pushlet.srv (store: ${store})`);

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

main().catch((err: Error) => {
  const code = String((err as NodeJS.ErrnoException).code ?? '');
  // Bad settings, bad flags, a busy port: say what is wrong, no stack trace.
  if (err instanceof ConfigError || code === 'EADDRINUSE' || code.startsWith('ERR_PARSE_ARGS')) {
    console.error(`pushlet-server: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
