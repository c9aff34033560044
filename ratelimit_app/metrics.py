"""Prometheus counters of the rate limiter (default registry; health_app exports them)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

CHECKS = Counter("winkr_ratelimit_checks", "Rate-limit checks, per scope.", ["scope"])
REJECTIONS = Counter("winkr_ratelimit_rejections", "Requests refused with 429, per scope.", ["scope"])
REDIS_ERRORS = Counter(
    "winkr_ratelimit_redis_errors",
    "Checks that could not reach Redis, per scope and the policy applied (open: allowed, closed: 503).",
    ["scope", "policy"],
)

# labels() takes a lock and a dict lookup; checks run on every request, so their children are kept.
_check_children: dict[str, Any] = {}


def count_check(scope: str) -> None:
    child = _check_children.get(scope)
    if child is None:
        child = _check_children[scope] = CHECKS.labels(scope)
    child.inc()
