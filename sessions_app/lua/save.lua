-- Save a Django session's data; for a device session, move its index entry to the new expiry too.
-- One script so the data and the device index change together (one round trip, atomic).
-- KEYS[1]  session hash (field d = session data)
-- KEYS[2]  the user's device index (sorted set id -> expiry ms); optional, only for user-tagged ids
-- ARGV[1]  serialized session data
-- ARGV[2]  time to live in ms
-- ARGV[3]  "1": must create (fail if the session exists); "0": must update (fail if it is gone)
-- ARGV[4]  session id (index member)
-- ARGV[5]  now in ms
-- Returns  1 saved, 0 exists already (CreateError), -1 gone (UpdateError: revoked or expired meanwhile)
local exists = redis.call('EXISTS', KEYS[1])
if ARGV[3] == '1' then
    if exists == 1 then return 0 end
elseif exists == 0 then
    return -1
end
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
if KEYS[2] and redis.call('HEXISTS', KEYS[1], 'u') == 1 then
    redis.call('ZADD', KEYS[2], tonumber(ARGV[5]) + ttl, ARGV[4])
    if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return 1
