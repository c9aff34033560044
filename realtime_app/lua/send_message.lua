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
-- ARGV[10]  n: how many pub/sub channels to publish the stored message to (0: the caller publishes)
-- ARGV[11..10+n]  those channels: the recipient's group's, then the sender's
-- ARGV[11+n]  "1": skip the last channel (the sender's group) when it has at most one subscriber, which
--             the caller knows is its own process holding only the sending socket
-- ARGV[12+n]  the channel name of the sending socket (the event's "exclude"; "" for none)
-- ARGV[13+n..]  MAXLEN, two TTLs, then the fields ("from", .., "to", .., "text", ..): append_message.lua's ARGV
--
-- Returns {limit reply} when the limit refuses (nothing is stored, so a refused sender never trims the
-- capped Stream), else {limit reply, append reply, indexed (0/1), published (0/1)}; both replies as their
-- scripts return.

local limited = rate_limit({KEYS[1]}, {"consume", ARGV[1], ARGV[2], ARGV[3]})
if tonumber(limited[1]) ~= 1 then
  return {limited}
end

local append_keys = {KEYS[2]}
if #KEYS > 4 then append_keys[2] = KEYS[5] end
local channels = tonumber(ARGV[10])
local append_args = {}
for i = 13 + channels, #ARGV do append_args[#append_args + 1] = ARGV[i] end
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

-- Live delivery of a new message (a resend delivers nothing), once it is stored: the channel layer's own
-- event, {type = "chat.deliver", message = {id, from, to, text}, exclude}, packed as msgpack the way
-- channels_redis' pub/sub layer packs it (realtime_app.delivery.script_publish says when that holds), so
-- the message needs no second round trip. The text is the last field of the appended entry.
local published = 0
if channels > 0 and tonumber(stored[2]) == 0 then
  local event = cmsgpack.pack({type = "chat.deliver", exclude = ARGV[12 + channels],
                               message = {id = stored[1], from = ARGV[8], to = ARGV[9],
                                          text = append_args[#append_args]}})
  local last = channels
  if ARGV[11 + channels] == "1" and redis.call("PUBSUB", "NUMSUB", ARGV[10 + channels])[2] <= 1 then
    last = channels - 1
  end
  for i = 11, 10 + last do redis.call("PUBLISH", ARGV[i], event) end
  published = 1
end
return {limited, stored, indexed, published}
