"""Prometheus metrics of JWT revocation (default registry, ``winkr_sessions_jwt_*``)."""

from prometheus_client import Counter

AUTH_CHECKS = Counter(
    "winkr_sessions_jwt_auth_checks", "Access-token checks by outcome.", ["result"]
)
REVOCATIONS = Counter(
    "winkr_sessions_jwt_revocations", "Revocations written, by scope (token, session, user).", ["scope"]
)
REFRESH_REUSE = Counter(
    "winkr_sessions_jwt_refresh_reuse", "Rotated-out refresh tokens presented again (session revoked)."
)
FAIL_OPEN = Counter(
    "winkr_sessions_jwt_fail_open", "Requests let through without a revocation check because Redis failed."
)
USER_CACHE = Counter("winkr_sessions_jwt_user_cache", "User row lookups on the hot path.", ["result"])

# Bound children: a label lookup per request is measurable on the hot path.
CHECK_OK = AUTH_CHECKS.labels(result="ok")
CHECK_REVOKED = AUTH_CHECKS.labels(result="revoked")
CHECK_INVALID = AUTH_CHECKS.labels(result="invalid")
USER_HIT = USER_CACHE.labels(result="hit")
USER_MISS = USER_CACHE.labels(result="miss")
