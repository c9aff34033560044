-- Sliding-window counter over one or more limits, in O(1) memory per limit.
--
-- Each limit is a hash {w = current fixed window number, c = its count, p = the previous
-- window's count}. The count in the sliding window is estimated as
--   p * (time left in the current fixed window / window) + c
-- which assumes the previous window's requests were spread evenly: exact inside one
-- fixed window, approximate across its edge, and never more than a few KB of state.
-- Time is Redis server time (TIME), so app servers' clocks never matter.
--
-- KEYS[i]        hash of limit i; all KEYS of one call share a Cluster hash tag
-- ARGV[1]        mode: "consume" (count one request in every limit if all allow),
--                "peek" (read only), "release" (uncount one request)
-- ARGV[2]        token (unused; kept so both algorithms take the same arguments)
-- ARGV[2 + 2i - 1], ARGV[2 + 2i]: requests allowed and window in milliseconds of KEYS[i]
--
-- Returns {allowed, remaining_1, reset_after_ms_1, retry_after_ms_1, remaining_2, ...}
-- (same shape as sliding_log.lua).

if redis.replicate_commands then redis.replicate_commands() end

local mode = ARGV[1]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local reply = {1}
local allowed = 1
local state = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  local number = math.floor(now / window)
  local stored = redis.call("HMGET", KEYS[i], "w", "c", "p")
  local w = tonumber(stored[1])
  local c = tonumber(stored[2]) or 0
  local p = tonumber(stored[3]) or 0
  if w == number - 1 then
    p = c
    c = 0
  elseif w ~= number then
    p = 0
    c = 0
  end
  state[i] = {number, c, p, window, w}
  local elapsed = now - number * window
  local estimate = p * (window - elapsed) / window + c
  local retry_after = 0
  if estimate + 1 > limit then
    allowed = 0
    if c + 1 <= limit then
      -- Wait until the previous window's weight has decayed enough inside this one.
      retry_after = window - elapsed - (limit - c - 1) * window / p
    else
      -- Wait for the next window, where this window's count becomes the decaying part.
      retry_after = (window - elapsed) + math.max(0, window - (limit - 1) * window / c)
    end
  end
  local reset_after = 0
  if c > 0 or p > 0 then
    reset_after = window - elapsed
  end
  reply[2 + 3 * (i - 1)] = math.max(math.floor(limit - estimate), 0)
  reply[3 + 3 * (i - 1)] = math.ceil(reset_after)
  reply[4 + 3 * (i - 1)] = math.ceil(retry_after)
end

reply[1] = allowed
if mode == "consume" and allowed == 1 then
  for i = 1, #KEYS do
    local s = state[i]
    redis.call("HSET", KEYS[i], "w", s[1], "c", s[2] + 1, "p", s[3])
    redis.call("PEXPIRE", KEYS[i], 2 * s[4])
    reply[2 + 3 * (i - 1)] = math.max(reply[2 + 3 * (i - 1)] - 1, 0)
    if reply[3 + 3 * (i - 1)] == 0 then
      reply[3 + 3 * (i - 1)] = s[4] - (now - s[1] * s[4])
    end
  end
elseif mode == "release" then
  for i = 1, #KEYS do
    local s = state[i]
    -- The request was counted in the current window (or in the one just ended, not yet shifted).
    if (s[5] == s[1] or s[5] == s[1] - 1) and tonumber(redis.call("HGET", KEYS[i], "c") or 0) > 0 then
      redis.call("HINCRBY", KEYS[i], "c", -1)
    end
  end
  return {1}
end
return reply
