-- Exact sliding-window limit over one or more limits, checked and taken atomically.
--
-- Each limit is a sorted set: one member per request counted in the window, scored by
-- Redis server time in microseconds (so app servers' clocks never matter).
--
-- KEYS[i]        sorted set of limit i; all KEYS of one call share a Cluster hash tag
-- ARGV[1]        mode: "consume" (take one slot in every limit if all allow),
--                "peek" (read only), "release" (give back the slot named by ARGV[2])
-- ARGV[2]        token: unique member of this request (consume, release)
-- ARGV[2 + 2i - 1], ARGV[2 + 2i]: requests allowed and window in milliseconds of KEYS[i]
--
-- Returns {allowed, remaining_1, reset_after_ms_1, retry_after_ms_1, remaining_2, ...}:
--   allowed         1 if every limit had room (and, in consume mode, the slot was taken)
--   remaining       slots left in the window after this call
--   reset_after_ms  time until the oldest counted request leaves the window (0 if none)
--   retry_after_ms  time until one more request would pass this limit (0 if it passes now)

-- Redis < 7 replicates scripts verbatim unless told to replicate their effects, and
-- refuses writes after a non-deterministic command such as TIME; Redis 7 always
-- replicates effects (the call is then a deprecated no-op).
if redis.replicate_commands then redis.replicate_commands() end

local mode = ARGV[1]
local token = ARGV[2]

if mode == "release" then
  for i = 1, #KEYS do
    redis.call("ZREM", KEYS[i], token)
  end
  return {1}
end

local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
-- Lua turns numbers into "%.14g" strings when passing them to Redis, which would round
-- a microsecond timestamp (16 digits): format them as integers explicitly.
local function int(value) return string.format("%d", value) end

local reply = {1}
local allowed = 1
local counts = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i]) * 1000
  local cutoff = now - window
  if mode == "consume" then
    -- Keeps the set bounded by the limit: expired entries go, denied requests never enter.
    redis.call("ZREMRANGEBYSCORE", key, "-inf", int(cutoff))
  end
  local count = redis.call("ZCOUNT", key, "(" .. int(cutoff), "+inf")
  counts[i] = count
  local reset_after = 0
  if count > 0 then
    local oldest = redis.call("ZRANGEBYSCORE", key, "(" .. int(cutoff), "+inf", "WITHSCORES", "LIMIT", 0, 1)
    reset_after = tonumber(oldest[2]) + window - now
  end
  local retry_after = 0
  if count >= limit then
    allowed = 0
    -- One more request fits once the (count - limit + 1)-th oldest entry has expired.
    local blocking = redis.call("ZRANGEBYSCORE", key, "(" .. int(cutoff), "+inf", "WITHSCORES", "LIMIT", count - limit, 1)
    retry_after = tonumber(blocking[2]) + window - now
  end
  reply[2 + 3 * (i - 1)] = math.max(limit - count, 0)
  reply[3 + 3 * (i - 1)] = math.ceil(reset_after / 1000)
  reply[4 + 3 * (i - 1)] = math.ceil(retry_after / 1000)
end

reply[1] = allowed
if mode == "consume" and allowed == 1 then
  for i = 1, #KEYS do
    local window_ms = tonumber(ARGV[2 + 2 * i])
    redis.call("ZADD", KEYS[i], int(now), token)
    redis.call("PEXPIRE", KEYS[i], window_ms + 1)
    reply[2 + 3 * (i - 1)] = reply[2 + 3 * (i - 1)] - 1
    if counts[i] == 0 then
      reply[3 + 3 * (i - 1)] = window_ms
    end
  end
end
return reply
