-- Append one chat message to a conversation Stream, at most once per (sender, client_id).
--
-- KEYS[1]   the conversation Stream
-- KEYS[2]   optional: the key remembering (sender, client_id) in this conversation; same hash tag as KEYS[1]
-- ARGV[1]   approximate MAXLEN of the Stream
-- ARGV[2]   TTL of the Stream in seconds (refreshed by every message)
-- ARGV[3]   TTL of KEYS[2] in seconds
-- ARGV[4..] field, value, field, value, ... of the new entry
--
-- Returns {id, 0, created} for a new entry (created: 1 when it is the Stream's only entry, i.e. the
-- conversation is new or was lost, so the caller must index it); {original id, 1, field, value, ...} when KEYS[2] already names an
-- entry (a client resending after a lost ack): nothing is appended, and the original entry's fields
-- follow (none if the capped Stream has trimmed it since).
-- The check, the XADD and the SET run as one script, so two resends racing each other cannot both append.

-- Redis < 7 replicates scripts verbatim unless told to replicate effects, and XADD * is not deterministic.
if redis.replicate_commands then redis.replicate_commands() end

if #KEYS > 1 then
  local original = redis.call("GET", KEYS[2])
  if original then
    local reply = {original, 1}
    local entries = redis.call("XRANGE", KEYS[1], original, original)
    if entries[1] then
      for _, value in ipairs(entries[1][2]) do reply[#reply + 1] = value end
    end
    return reply
  end
end

local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[1], "*", unpack(fields))
redis.call("EXPIRE", KEYS[1], ARGV[2])
if #KEYS > 1 then
  redis.call("SET", KEYS[2], id, "EX", ARGV[3])
end
local created = 0
if redis.call("XLEN", KEYS[1]) == 1 then created = 1 end
return {id, 0, created}
