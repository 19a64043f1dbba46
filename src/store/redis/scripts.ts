import { SS } from './keys';

/**
 * Lua scripts. Most touch only KEYS[1]; those of many keys (`manyKeys`) do the same thing to
 * each key by itself and are run by Connection.scriptMany on keys of one server at a time, so
 * all run unchanged on one Redis, on client-side shards and on Redis Cluster. Numbers are
 * written with %d: Lua's own number formatting would turn large values into exponent notation.
 */

export interface ScriptDef {
  name: string;
  lua: string;
  /** Takes any number of keys (their count first) and answers one entry per key. */
  manyKeys?: boolean;
}

/**
 * Single-key commands in one call, saving the client a command object, an encoding and a reply
 * per command. ARGV per key: argument count n, command name, n arguments.
 */
export const BATCH: ScriptDef = {
  name: 'pushletBatch',
  manyKeys: true,
  lua: `
local out, a = {}, 1
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[a])
  out[i] = redis.call(ARGV[a + 1], key, unpack(ARGV, a + 2, a + 1 + n))
  a = a + 2 + n
end
return out`,
};

/**
 * LPUSHes events onto each queue KEYS[i] while it holds fewer than ARGV[1]. ARGV[2] = m, the
 * number of distinct events, ARGV[3..m+2] the events; then per key a count c and the c indexes
 * (from 0) of its events, oldest first: receivers of one subscription share one copy on the
 * wire, and a queue's events go in one call, in order. Per key: how many were pushed (the rest
 * found it full).
 */
export const PUSH_IF_ROOM: ScriptDef = {
  name: 'pushletPushIfRoom',
  manyKeys: true,
  lua: `
local capacity, m, out = tonumber(ARGV[1]), tonumber(ARGV[2]), {}
local a = m + 3
for i, key in ipairs(KEYS) do
  local c, pushed = tonumber(ARGV[a]), 0
  local room = capacity - redis.call('LLEN', key)
  for j = 1, c do
    if pushed < room then
      redis.call('LPUSH', key, ARGV[3 + tonumber(ARGV[a + j])])
      pushed = pushed + 1
    end
  end
  out[i] = pushed
  a = a + 1 + c
end
return out`,
};

/**
 * Removes from the queue KEYS[1] the events ARGV (as stored, oldest first), each its occurrence
 * nearest the tail, the oldest end, where a peek found it. When they still are the tail, as
 * they mostly are, one LTRIM does it: one keyspace event for every node to read, not one per event.
 * 1: they were the tail; 2: removed one by one.
 */
export const ACK_EVENTS: ScriptDef = {
  name: 'pushletAckEvents',
  lua: `
local n = #ARGV
local tail = redis.call('LRANGE', KEYS[1], -n, -1)
local atTail = #tail == n
for i = 1, n do
  if not atTail then break end
  atTail = tail[n + 1 - i] == ARGV[i]
end
if atTail then
  redis.call('LTRIM', KEYS[1], 0, string.format('%d', -n - 1))
  return 1
end
for _, event in ipairs(ARGV) do redis.call('LREM', KEYS[1], -1, event) end
return 2`,
};

/**
 * The common case of ACK_EVENTS in fewer bytes: when the ARGV[1] events at the tail of the queue
 * KEYS[1], newest first, joined by newlines, have the SHA-1 ARGV[2] (JSON holds no raw newline),
 * one LTRIM removes them. 1: removed; 0: they are not the tail (send ACK_EVENTS).
 */
export const ACK_TAIL: ScriptDef = {
  name: 'pushletAckTail',
  lua: `
local n = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) < n then return 0 end
if redis.sha1hex(table.concat(redis.call('LRANGE', KEYS[1], -n, -1), '\\n')) ~= ARGV[2] then return 0 end
redis.call('LTRIM', KEYS[1], 0, string.format('%d', -n - 1))
return 1`,
};

/** HSET field/value pairs (ARGV) on the hash KEYS[1] only when it exists. 1: written. */
export const HSET_IF_EXISTS: ScriptDef = {
  name: 'pushletHsetIfExists',
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`,
};

/** HDEL field ARGV[1] of KEYS[1] only when its value is ARGV[2]. 1: deleted. */
export const HDEL_IF_EQUAL: ScriptDef = {
  name: 'pushletHdelIfEqual',
  lua: `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])`,
};

/** Results of AGE. */
export const AGED = { GONE: -1, LIVING: 0, EXPIRED: 1 } as const;

/**
 * One aging step on the session hash KEYS[1]; ARGV: now ms, the most ms this pass may count
 * (the time since this node's previous pass, which is what a Java node subtracts), the lock
 * timeout ms.
 *
 * Java takes the lock with HSETNX AgingTime and releases it with HDEL; a script runs atomically,
 * so here the lock only has to be respected (a Java node is counting this session down) or
 * cleared when it is stale (that node died holding it).
 *
 * Counting from the later of lastSeen and lastAged, not a fixed interval, is what keeps two of
 * our nodes from aging a session twice as fast as one. ownTimeToLive follows timeToLive only
 * while no Java node has written it.
 *
 * Returns EXPIRED once, when timeToLive crosses to <= 0, or for a temporary session left at
 * <= 0 for a whole lock timeout (its stopping node died); GONE when the hash does not exist.
 */
export const AGE: ScriptDef = {
  name: 'pushletAge',
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local now = tonumber(ARGV[1])
local lockTimeout = tonumber(ARGV[3])
local lock = tonumber(redis.call('HGET', KEYS[1], '${SS.AGING_TIME}'))
if lock then
  if now - lock < lockTimeout then return 0 end
  redis.call('HDEL', KEYS[1], '${SS.AGING_TIME}')
end
local f = redis.call('HMGET', KEYS[1], '${SS.TIME_TO_LIVE}', '${SS.LAST_SEEN}', '${SS.LAST_AGED}', '${SS.TEMPORARY}', '${SS.OWN_TIME_TO_LIVE}')
local ttl = tonumber(f[1]) or 0
local lastAged = tonumber(f[3]) or 0
if ttl <= 0 then
  if f[4] == 'true' and now - lastAged >= lockTimeout then
    redis.call('HSET', KEYS[1], '${SS.LAST_AGED}', ARGV[1])
    return 1
  end
  return 0
end
local since = math.max(tonumber(f[2]) or 0, lastAged)
local elapsed = math.max(0, math.min(now - since, tonumber(ARGV[2])))
ttl = ttl - elapsed
local written = string.format('%d', math.max(ttl, 0))
redis.call('HSET', KEYS[1], '${SS.TIME_TO_LIVE}', written, '${SS.LAST_AGED}', ARGV[1])
if f[5] == f[1] then redis.call('HSET', KEYS[1], '${SS.OWN_TIME_TO_LIVE}', written) end
if ttl > 0 then return 0 end
return 1`,
};

/** Takes the lease KEYS[1] for holder ARGV[1] for ARGV[2] ms, or renews it if that holder has it. 1: held. */
export const TAKE_LEASE: ScriptDef = {
  name: 'pushletTakeLease',
  lua: `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
};

/** Gives up the lease KEYS[1] if holder ARGV[1] has it. */
export const DROP_LEASE: ScriptDef = {
  name: 'pushletDropLease',
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`,
};

export const ALL_SCRIPTS: readonly ScriptDef[] = [BATCH, PUSH_IF_ROOM, ACK_EVENTS, ACK_TAIL, HSET_IF_EXISTS, HDEL_IF_EQUAL, AGE, TAKE_LEASE, DROP_LEASE];
