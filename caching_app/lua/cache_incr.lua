-- Django cache incr()/decr() on caching_app.django_cache.RedisCache: add to an existing counter only.
-- KEYS[1]: the cache key (made by the cache's make_key)
-- ARGV[1]: delta (a signed integer)
-- Returns: the new value, or false when the key does not exist (the cache raises ValueError);
--          a "not an integer" error when the value is not one Redis can add to.
-- One script so that a key expiring between the check and the add is never re-created as delta.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('INCRBY', KEYS[1], ARGV[1])
