-- Record activity on a device session, at most once per interval (throttled in Redis, so it
-- holds across processes), and feed the user's presence.
-- KEYS[1]  session hash   KEYS[2] the user's device index   KEYS[3] presence   KEYS[4] last seen
-- ARGV[1]  now ms   ARGV[2] interval ms   ARGV[3] online window ms   ARGV[4] last-seen ttl ms
-- ARGV[5]  "1" to write even inside the interval   ARGV[6] session id
-- Returns  false if no such device session; else {user id, expiry ms, 1 written | 0 throttled}
local fields = redis.call('HMGET', KEYS[1], 'u', 'a', 't')
if not fields[1] then return false end
local now = tonumber(ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ARGV[5] ~= '1' and fields[2] and now - tonumber(fields[2]) < tonumber(ARGV[2]) then
    return {fields[1], now + ttl, 0}
end
redis.call('HSET', KEYS[1], 'a', now)
if fields[3] then
    -- JWT device sessions slide: each activity extends them by their ttl.
    ttl = tonumber(fields[3])
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('ZADD', KEYS[2], now + ttl, ARGV[6])
    if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
end
local window = tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], 'GT', now + window, 'http')
if redis.call('PTTL', KEYS[3]) < window then redis.call('PEXPIRE', KEYS[3], window) end
redis.call('SET', KEYS[4], now, 'PX', ARGV[4])
return {fields[1], now + ttl, 1}
