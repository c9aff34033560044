-- Atomically accept a refresh token once and rotate it out.
-- KEYS[1] token marker (jti), KEYS[2] session marker (sid), KEYS[3] user cut-off; one hash tag (the user).
-- ARGV[1] the token's iat (seconds, may be fractional), ARGV[2] TTL in seconds of the rotated-out marker
--         (the token's remaining lifetime).
-- Returns "ok" (marker written: the caller issues the new pair), "revoked" (session, user or token
-- revoked) or "reused" (this token was already rotated out: replay, the caller revokes the session).
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 'revoked'
end
local before = redis.call('GET', KEYS[3])
if before and tonumber(ARGV[1]) < tonumber(before) then
  return 'revoked'
end
local previous = redis.call('GET', KEYS[1])
if previous then
  if previous == 'rotated' then
    return 'reused'
  end
  return 'revoked'
end
redis.call('SET', KEYS[1], 'rotated', 'EX', ARGV[2])
return 'ok'
