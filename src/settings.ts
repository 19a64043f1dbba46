/**
 * Every setting, once: its property name (as in Java's pushlet.properties), its kind, its default
 * and what it means. The `Config` type is derived from this table, so a setting is declared in
 * one place; `src/config/` loads it (file, environment, flags), core reads the subset it needs.
 * Defaults are those of the Java Redis fork's shipped pushlet.properties, where Java has the key.
 */

/**
 * `list`: comma-separated; `lclist`: the same, lower-cased (user agents, origins); `cores`: a
 * whole number, or `auto` for this machine's core count; an array: one of these words.
 */
export type Kind = 'int' | 'bool' | 'string' | 'list' | 'lclist' | 'cores' | readonly string[];

export interface Setting {
  key: string;
  prop: string;
  kind: Kind;
  def: string;
  /** Another environment variable that sets it, beside `PUSHLET_<NAME>`. */
  env?: string;
  doc: string;
}

export const SETTINGS = [
  { key: 'port', prop: 'port', kind: 'int', def: '8080', env: 'PORT', doc: 'Port to listen on.' },
  { key: 'host', prop: 'host', kind: 'string', def: '0.0.0.0', env: 'HOST', doc: 'Address to listen on.' },
  { key: 'context', prop: 'context', kind: 'string', def: '/pushlet', env: 'PUSHLET_CONTEXT', doc: 'Context path of the servlet; every path ending in `/pushlet.srv` is served anyway.' },
  { key: 'workers', prop: 'workers', kind: 'cores', def: '1', doc: 'Processes the command runs on the port, each a node on the Redis store (node:cluster); `auto`: one per core; above 1 needs redis.url or redis.serverlist.' },
  { key: 'sessionIdGeneration', prop: 'session.id.generation', kind: ['uuid', 'randomstring'], def: 'uuid', doc: 'How new session ids are made.' },
  { key: 'sessionIdSize', prop: 'session.id.size', kind: 'int', def: '10', doc: 'Length of a `randomstring` id.' },
  { key: 'sessionTimeoutMins', prop: 'session.timeout.mins', kind: 'int', def: '3', doc: 'Session lease in minutes.' },
  { key: 'sessionLeaseMillis', prop: 'session.lease.millis', kind: 'int', def: '0', doc: 'Session lease in ms; when set, wins over session.timeout.mins.' },
  { key: 'queueSize', prop: 'queue.size', kind: 'int', def: '256', doc: 'Events a session\'s queue holds.' },
  { key: 'queueReadTimeoutMillis', prop: 'queue.read.timeout.millis', kind: 'int', def: '20000', doc: 'How long a pull request waits for events; the heartbeat interval of a stream.' },
  { key: 'queueWriteTimeoutMillis', prop: 'queue.write.timeout.millis', kind: 'int', def: '20000', doc: 'How long a receiver may stay full (queue or output) before it is stopped.' },
  { key: 'publishAnswerEarly', prop: 'publish.answer.early', kind: 'bool', def: 'true', doc: 'Redis store: a publish may be answered before its fan-out ends (publish.answer.millis), kept in Redis so that no node failure loses it; false: always after its fan-out, as Java.' },
  { key: 'publishAnswerMillis', prop: 'publish.answer.millis', kind: 'int', def: '20', doc: 'Redis store, with publish.answer.early: most a publish waits for its fan-out before it is answered; the fan-out then goes on.' },
  { key: 'publishAdoptMillis', prop: 'publish.adopt.millis', kind: 'int', def: '30000', doc: 'Redis store: publishes a node answered and had not fanned out when it died are fanned out by another node this long after its last sign of life.' },
  { key: 'deliveryBatchMaxMillis', prop: 'delivery.batch.max.millis', kind: 'int', def: '50', doc: 'Most a delivery round may hold answers back under load; 0 turns rounds off.' },
  { key: 'listenForcePullAll', prop: 'listen.force.pull.all', kind: 'bool', def: 'false', doc: 'Every stream listen becomes pull.' },
  { key: 'listenForcePullAgents', prop: 'listen.force.pull.agents', kind: 'lclist', def: 'safari', doc: 'User agents whose stream listens become pull.' },
  { key: 'pullRefreshTimeoutMillis', prop: 'pull.refresh.timeout.millis', kind: 'int', def: '45000', doc: 'A temporary pull session that has not come back within this (plus queue.read.timeout.millis) is stopped when an event comes for it.' },
  { key: 'pullRefreshWaitMinMillis', prop: 'pull.refresh.wait.min.millis', kind: 'int', def: '2000', doc: 'Least `p_wait` of a pull refresh.' },
  { key: 'pullRefreshWaitMaxMillis', prop: 'pull.refresh.wait.max.millis', kind: 'int', def: '6000', doc: 'Most `p_wait` of a pull refresh.' },
  { key: 'pollRefreshTimeoutMillis', prop: 'poll.refresh.timeout.millis', kind: 'int', def: '60000', doc: 'A temporary poll session that has not come back within this (plus queue.read.timeout.millis) is stopped when an event comes for it.' },
  { key: 'pollRefreshWaitMinMillis', prop: 'poll.refresh.wait.min.millis', kind: 'int', def: '6000', doc: 'Least `p_wait` of a poll refresh.' },
  { key: 'pollRefreshWaitMaxMillis', prop: 'poll.refresh.wait.max.millis', kind: 'int', def: '10000', doc: 'Most `p_wait` of a poll refresh.' },
  { key: 'sourcesActivate', prop: 'sources.activate', kind: 'bool', def: 'true', doc: 'Whether server-side event sources run.' },
  { key: 'sourcesList', prop: 'sources.list', kind: 'list', def: 'ping,ticker,temperature', doc: 'Sources to run: built-in names or paths of source modules. Unless set, those of Java\'s sources.properties, and this default only with no configuration file at all (docs/MIGRATING.md).' },
  { key: 'sourcesLeaseMillis', prop: 'sources.lease.millis', kind: 'int', def: '10000', doc: 'How long a node\'s hold on a source lasts without renewal: the takeover time when it dies.' },
  { key: 'logLevel', prop: 'log.level', kind: 'int', def: '4', doc: 'Java\'s log level: 0 silent ... 4 info, 5 debug.' },
  { key: 'redisServerlist', prop: 'redis.serverlist', kind: 'string', def: '', doc: '`host:port[:password]`, comma-separated; several are client-side shards; empty: the embedded store.' },
  { key: 'redisPagesize', prop: 'redis.pagesize', kind: 'int', def: '100', doc: 'Entries per page when listing subscribers or sessions.' },
  { key: 'redisSocketto', prop: 'redis.socketto', kind: 'int', def: '2000', doc: 'Redis connect timeout in ms.' },
  { key: 'redisUrl', prop: 'redis.url', kind: 'string', def: '', env: 'REDIS_URL', doc: 'A `redis://`, `rediss://` or `redis-sentinel://` URL; an alternative to redis.serverlist.' },
  { key: 'redisCluster', prop: 'redis.cluster', kind: 'bool', def: 'false', doc: 'Treat the Redis servers as startup nodes of a Redis Cluster.' },
  { key: 'redisJavaNodes', prop: 'redis.java.nodes', kind: ['auto', 'on', 'off'], def: 'auto', doc: 'Whether Java Pushlet nodes share the Redis: `on` listens to keyspace notifications for their pushes, `off` never (our nodes wake each other by message), `auto` from the first session a Java node wrote (docs/ARCHITECTURE.md, wake-ups).' },
  { key: 'redisPollIntervalMillis', prop: 'redis.poll.interval.millis', kind: 'int', def: '200', doc: 'Only where Redis refuses keyspace notifications: how often waiting requests check their queue.' },
  { key: 'requestCharset', prop: 'request.charset', kind: 'string', def: 'UTF-8', doc: 'Charset of percent-escaped request bytes; a POST\'s Content-Type charset wins.' },
  { key: 'responseCharset', prop: 'response.charset', kind: 'string', def: 'UTF-8', doc: 'Charset of responses.' },
  { key: 'subjectMatch', prop: 'subject.match', kind: ['prefix', 'exact'], def: 'prefix', doc: '`prefix` (original Pushlets) or `exact` (Redis fork); docs/PROTOCOL.md section 10.' },
  { key: 'agingIntervalMillis', prop: 'session.aging.interval.millis', kind: 'int', def: '60000', doc: 'How often expired sessions are swept.' },
  { key: 'limitSessions', prop: 'limit.sessions', kind: 'int', def: '100000', doc: 'Sessions the server holds; beyond, idle ones are reclaimed, else 429.' },
  { key: 'limitSubscriptions', prop: 'limit.subscriptions.per.session', kind: 'int', def: '100', doc: 'Subscriptions per session; beyond, nack.' },
  { key: 'limitSessionsPerAddress', prop: 'limit.sessions.per.address', kind: 'int', def: '1000', doc: 'New sessions one client address may open within one session lease, per node; beyond, 429.' },
  { key: 'limitSubjectParts', prop: 'limit.subject.parts.per.session', kind: 'int', def: '200', doc: 'Single subjects over all subscriptions of a session; beyond, nack.' },
  { key: 'limitFields', prop: 'limit.fields.per.event', kind: 'int', def: '100', doc: 'Fields per request; beyond, 400.' },
  { key: 'limitFieldName', prop: 'limit.field.name.length', kind: 'int', def: '256', doc: 'Characters of a field name; beyond, 400.' },
  { key: 'limitFieldValue', prop: 'limit.field.value.length', kind: 'int', def: '65536', doc: 'Characters of a field value; beyond, 400.' },
  { key: 'limitSubject', prop: 'limit.subject.length', kind: 'int', def: '1024', doc: 'Characters of a subject; beyond, nack.' },
  { key: 'limitBodyBytes', prop: 'limit.body.bytes', kind: 'int', def: '1048576', doc: 'Bytes of a POST body; beyond, 413.' },
  { key: 'limitOutputBytes', prop: 'limit.output.bytes', kind: 'int', def: '1048576', doc: 'Unsent output a data channel holds (stream) or one pull answer carries.' },
  { key: 'publishClients', prop: 'publish.clients', kind: 'bool', def: 'true', doc: 'Whether clients may publish at all (false: only server-side code).' },
  { key: 'publishUnicast', prop: 'publish.unicast', kind: 'bool', def: 'true', doc: 'Whether clients may unicast with `p_to`.' },
  { key: 'authModule', prop: 'auth.module', kind: 'string', def: '', doc: 'Path of an authorisation hook module (docs/MIGRATING.md section 5).' },
  { key: 'sessionBind', prop: 'session.bind', kind: ['none', 'cookie'], def: 'none', doc: '`none` (Java\'s behaviour) or `cookie`: bind a session to the browser that joined it.' },
  { key: 'sessionBindSecret', prop: 'session.bind.secret', kind: 'string', def: '', env: 'PUSHLET_BIND_SECRET', doc: 'Key of the session-binding cookie\'s HMAC; the same on every node.' },
  { key: 'corsOrigins', prop: 'cors.origins', kind: 'lclist', def: '', doc: 'Origins allowed to call from other sites: `*` or a list; empty: none.' },
  { key: 'trustProxy', prop: 'proxy.trust', kind: 'lclist', def: 'false', doc: 'X-Forwarded-For is believed from: `false` (no one), `true` (any peer), or these proxies\' addresses and CIDR ranges.' },
  { key: 'webapp', prop: 'webapp', kind: 'string', def: '', env: 'PUSHLET_WEBAPP', doc: 'Folder of an old web application\'s pages, served under the context.' },
] as const satisfies readonly Setting[];

/** The value type of a kind. */
type ValueOf<K> = K extends 'int' | 'cores' ? number
  : K extends 'bool' ? boolean
  : K extends 'string' ? string
  : K extends 'list' | 'lclist' ? string[]
  : K extends readonly (infer W)[] ? W
  : never;

/** The whole configuration, one typed object: a field per setting, named by its `key`. */
export type Config = { -readonly [S in (typeof SETTINGS)[number] as S['key']]: ValueOf<S['kind']> };
