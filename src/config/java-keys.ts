/**
 * Keys a Java Pushlet server's pushlet.properties may hold that this server has no setting for:
 * the Redis fork's shipped file and the names of its ConfigDefs. A file moved from a Java
 * deployment keeps them without a warning; any other unknown key is warned about by name.
 */
export const JAVA_ONLY_KEYS: ReadonlySet<string> = new Set([
  'config.version',
  'config.redirect',
  // The class factory: Java's way to swap core classes (here: auth.module, sources.list).
  'controller.class',
  'dispatcher.class',
  'logger.class',
  'sessionmanager.class',
  'session.class',
  'subscriber.class',
  'subscription.class',
  'redismanager.class',
  'sessionmanager.maxsessions',
  // Jedis pool and debug switches: ioredis keeps one connection per server and logs through log.level.
  'redis.debug',
  'redis.minconn',
  'redis.maxconn',
]);
