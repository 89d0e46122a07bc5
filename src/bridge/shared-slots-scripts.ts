/**
 * The Lua scripts behind SharedSlots. Each runs atomically in Redis, so two instances
 * can never both take the last slot, nor both carry one call.
 *
 * KEYS: [1] the slots sorted set, [2] the call's owner (`<instance>|admitted` or
 * `<instance>|streaming`), [3] the call's ended marker.
 */

/** ARGV: now, slot ttl, limit, CallSid, owner value `<me>|admitted`, owner ttl. */
export const ACQUIRE = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 'ended' end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[5] then return 'elsewhere' end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 'full'
end
redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
return 'ok'`;

/**
 * ARGV: now, slot ttl, limit, CallSid, me, owner ttl, events channel. A call this instance
 * admitted keeps its slot whatever the count; an adopted one needs room in the fleet.
 */
export const CLAIM = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 'ended' end
local owner = redis.call('GET', KEYS[2])
local mine = ARGV[5] .. '|admitted'
if owner and owner ~= mine and string.sub(owner, -10) == '|streaming' then return 'taken' end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if owner ~= mine and not redis.call('ZSCORE', KEYS[1], ARGV[4])
  and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 'full'
end
redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5] .. '|streaming', 'PX', ARGV[6])
if owner and owner ~= mine then
  redis.call('PUBLISH', ARGV[7], 'moved ' .. ARGV[4] .. ' ' .. ARGV[5])
end
return 'ok'`;

/**
 * ARGV: CallSid, ended ttl, me, '1' to remember it ended. Returns 0 (touching nothing)
 * when another instance owns the call.
 */
export const FINISH = `
local owner = redis.call('GET', KEYS[2])
if owner and string.sub(owner, 1, string.len(ARGV[3]) + 1) ~= ARGV[3] .. '|' then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if ARGV[4] == '1' then redis.call('SET', KEYS[3], '1', 'PX', ARGV[2]) end
return 1`;

/**
 * Moves an outbound call's slot and owner record from its own reference to its CallSid.
 * KEYS: [1] slots, [2] owner of the reference, [3] owner of the CallSid. ARGV: reference,
 * CallSid, owner ttl. Returns 0 when the slot had expired.
 */
export const RENAME = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
local owner = redis.call('GET', KEYS[2])
if owner then
  redis.call('SET', KEYS[3], owner, 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
end
return 1`;
