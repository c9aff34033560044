-- Give a session a new id, keeping its data and device record (Django's cycle_key, same user).
-- KEYS[1]  old session hash
-- KEYS[2]  new session hash (same user tag, so same slot)
-- KEYS[3]  the user's device index
-- ARGV[1]  old id   ARGV[2] new id   ARGV[3] serialized data   ARGV[4] ttl ms   ARGV[5] now ms
-- Returns  0 new id taken (retry with another), 1 cycled a plain session, 2 cycled a device session
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ttl = tonumber(ARGV[4])
local device = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('RENAME', KEYS[1], KEYS[2])
    if redis.call('ZREM', KEYS[3], ARGV[1]) == 1 then device = 1 end
end
redis.call('HSET', KEYS[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
if device == 1 then
    redis.call('ZADD', KEYS[3], tonumber(ARGV[5]) + ttl, ARGV[2])
    if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
    return 2
end
return 1
