-- One chat message in one script, for a single Redis server (standalone, Sentinel): the sender's rate
-- limit, then the append (with its client_id idempotency), then the partner index when due.
--
-- Not loaded by itself: realtime_app.send_script prepends two functions built from other scripts'
-- unchanged sources, so the rules exist once:
--   rate_limit(KEYS, ARGV)      ratelimit_app/lua/<algorithm>.lua (the limiter's own check: the REST
--                               path and the socket path count in the same key, the same way)
--   append_message(KEYS, ARGV)  realtime_app/lua/append_message.lua
--
-- KEYS[1]   the sender's rate-limit key (the limiter's key for the chat limit)
-- KEYS[2]   the conversation Stream
-- KEYS[3]   the sender's partner index;  KEYS[4]  the recipient's partner index
-- KEYS[5]   optional: the (sender, client_id) key of append_message.lua
-- ARGV[1]   the rate-limit token; ARGV[2], ARGV[3]: requests allowed and window in milliseconds
-- ARGV[4]   "1" to write the partner index even if the conversation is not new
-- ARGV[5]   the partner index score (ms); ARGV[6]: its TTL in seconds; ARGV[7]: partners kept per user
-- ARGV[8]   the sender's id;  ARGV[9]  the recipient's id
-- ARGV[10]  MAXLEN, ARGV[11..12] TTLs, ARGV[13..] fields: ARGV[1..] of append_message.lua
--
-- Returns {limit reply} when the limit refuses (nothing is stored, so a refused sender never trims the
-- capped Stream), else {limit reply, append reply, indexed (0/1)}; both replies as their scripts return.

local limited = rate_limit({KEYS[1]}, {"consume", ARGV[1], ARGV[2], ARGV[3]})
if tonumber(limited[1]) ~= 1 then
  return {limited}
end

local append_keys = {KEYS[2]}
if #KEYS > 4 then append_keys[2] = KEYS[5] end
local append_args = {}
for i = 10, #ARGV do append_args[#append_args + 1] = ARGV[i] end
local stored = append_message(append_keys, append_args)

-- A new (or lost) conversation is indexed even if this process believes it did lately. The same three
-- commands as realtime_app.chat._index_partners (the Cluster path, where each set is in its own slot).
local indexed = 0
if ARGV[4] == "1" or (tonumber(stored[2]) == 0 and tonumber(stored[3]) == 1) then
  local owners = {{KEYS[3], ARGV[9]}, {KEYS[4], ARGV[8]}}
  for _, owner in ipairs(owners) do
    redis.call("ZADD", owner[1], ARGV[5], owner[2])
    redis.call("ZREMRANGEBYRANK", owner[1], 0, -tonumber(ARGV[7]) - 1)
    redis.call("EXPIRE", owner[1], ARGV[6])
  end
  indexed = 1
end
return {limited, stored, indexed}
