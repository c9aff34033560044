-- Register a device session: its record, its index entry and the user's presence, in one step.
-- The hash may already hold a Django session's data (a cookie login): its expiry is kept then.
-- KEYS[1]  session hash          KEYS[2]  the user's device index (id -> expiry ms)
-- KEYS[3]  the user's presence (source -> online-until ms)    KEYS[4]  the user's last-seen key
-- ARGV[1]  session id   ARGV[2] user id   ARGV[3] kind   ARGV[4] now ms   ARGV[5] ttl ms
-- ARGV[6]  online window ms   ARGV[7] last-seen ttl ms   ARGV[8] ip   ARGV[9] user agent
-- ARGV[10] device JSON  ARGV[11] sliding ttl ms for JWT sessions ("" for cookie sessions)
-- Returns  {expiry ms, number of live device sessions of the user, expired ids...}
local now = tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local existed = redis.call('EXISTS', KEYS[1])
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'k', ARGV[3], 'c', now, 'a', now,
    'ip', ARGV[8], 'ua', ARGV[9], 'dev', ARGV[10])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 't', ARGV[11]) end
local ttl = -1
if existed == 1 then ttl = redis.call('PTTL', KEYS[1]) end
if ttl <= 0 then
    ttl = tonumber(ARGV[5])
    redis.call('PEXPIRE', KEYS[1], ttl)
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
local window = tonumber(ARGV[6])
redis.call('ZADD', KEYS[3], 'GT', now + window, 'http')
if redis.call('PTTL', KEYS[3]) < window then redis.call('PEXPIRE', KEYS[3], window) end
redis.call('SET', KEYS[4], now, 'PX', ARGV[7])
local result = {now + ttl, redis.call('ZCARD', KEYS[2])}
for _, id in ipairs(expired) do table.insert(result, id) end
return result
