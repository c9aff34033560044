-- Heartbeat of one realtime connection: it counts as online until now + ttl. A connection
-- whose heartbeats stop (crashed server, vanished phone) drops out by itself.
-- KEYS[1]  the user's presence (source -> online-until ms)   KEYS[2] the user's last-seen key
-- ARGV[1]  connection id   ARGV[2] now ms   ARGV[3] ttl ms   ARGV[4] last-seen ttl ms
-- Returns  the user's online-until (ms): the latest of all live sources
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('SET', KEYS[2], now, 'PX', ARGV[4])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local until_ms = tonumber(top[2])
redis.call('PEXPIRE', KEYS[1], until_ms - now)
return until_ms
