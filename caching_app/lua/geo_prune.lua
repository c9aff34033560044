-- Drop user locations not refreshed since a cutoff, from the GEO set and its freshness index.
-- KEYS[1]: GEO set of user locations (a sorted set underneath)
-- KEYS[2]: sorted set member -> unix time of the member's last location update
-- ARGV[1]: cutoff (unix seconds); members updated strictly before it are removed
-- ARGV[2]: most members to remove in one call (bounds the script's run time)
-- Returns: the number of members removed.
-- One script so a location refreshed between the range read and the removal is never lost.
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #stale == 0 then
  return 0
end
redis.call('ZREM', KEYS[1], unpack(stale))
redis.call('ZREM', KEYS[2], unpack(stale))
return #stale
