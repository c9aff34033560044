-- Delete sessions of one user: their hashes (data and device record) and index entries, atomically.
-- KEYS[1]  the user's device index     KEYS[2..n+1]  the sessions' hashes
-- ARGV[1]  keep-at-most guard for eviction: delete only while the index holds more than this
--          many sessions ("-1": no guard)
-- ARGV[2..n+1]  the session ids, in the order of their hashes in KEYS
-- Returns  {remaining index size, id, user id, kind, id, user id, kind, ...} for each deleted session
local guard = tonumber(ARGV[1])
local result = {0}
for i = 2, #KEYS do
    if guard >= 0 and redis.call('ZCARD', KEYS[1]) <= guard then break end
    local fields = redis.call('HMGET', KEYS[i], 'u', 'k')
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('DEL', KEYS[i])
    -- Only a session with a device record is reported (an index entry whose session expired is
    -- just dropped; a plain Django session has nothing to revoke).
    if fields[1] then
        table.insert(result, ARGV[i])
        table.insert(result, fields[1])
        table.insert(result, fields[2] or '')
    end
end
result[1] = redis.call('ZCARD', KEYS[1])
return result
