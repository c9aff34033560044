-- A realtime connection closed: forget it, and say until when the user stays online through
-- their other sources (other sockets, recent HTTP activity).
-- KEYS[1]  the user's presence   KEYS[2] the user's last-seen key
-- ARGV[1]  connection id   ARGV[2] now ms   ARGV[3] last-seen ttl ms
-- Returns  the user's online-until (ms), 0 when nothing keeps them online
local now = tonumber(ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('SET', KEYS[2], now, 'PX', ARGV[3])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return 0 end
return tonumber(top[2])
