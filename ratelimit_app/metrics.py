"""Prometheus counters of the rate limiter (default registry; health_app exports them)."""

from __future__ import annotations

from prometheus_client import Counter

CHECKS = Counter("winkr_ratelimit_checks", "Rate-limit checks, per scope.", ["scope"])
REJECTIONS = Counter("winkr_ratelimit_rejections", "Requests refused with 429, per scope.", ["scope"])
REDIS_ERRORS = Counter(
    "winkr_ratelimit_redis_errors",
    "Checks that could not reach Redis, per scope and the policy applied (open: allowed, closed: 503).",
    ["scope", "policy"],
)
