"""The rate_limit component: the real limiter, on a private probe key no user can share."""

from __future__ import annotations

import uuid
from typing import Any

from caching_app.foundation.connections import STATE
from health_app.probes import get_probe_redis

from .base import HealthCheck, HealthCheckError

PROBE_ENDPOINT = "__winkr_health__"
PROBE_KEY_TYPE = "custom"  # the limiter's type for keys that are neither an IP nor a user


class RateLimitCheck(HealthCheck):
    name = "rate_limit"
    requests = 2
    window = 5  # seconds: probe keys expire quickly

    def run(self) -> dict[str, Any]:
        try:
            from ratelimit_app.limiter import RateLimitConfig, check_rate_limit
        except ImportError:
            return {"note": "ratelimit_app limiter not installed"}
        config = RateLimitConfig(self.requests, self.window, PROBE_ENDPOINT, PROBE_KEY_TYPE)
        # The endpoint (scope) is reserved for this probe and the key is random, so a probe never
        # spends or resets a real client's allowance. The probe client fails fast on a hung Redis.
        key = f"probe-{uuid.uuid4().hex}"
        client = get_probe_redis(STATE)
        results = [check_rate_limit(config, key, client=client) for _ in range(self.requests + 1)]
        standard = {"allowed": results[0].allowed, "remaining": results[0].remaining}
        over = {"allowed": results[-1].allowed, "remaining": results[-1].remaining}
        if not results[0].allowed:
            msg = "the first request on a fresh probe key was rejected"
            raise HealthCheckError(msg)
        if results[-1].allowed:
            msg = f"request {self.requests + 1} of a limit of {self.requests} was allowed"
            raise HealthCheckError(msg)
        return {"standard_test": standard, "limit_test": over}
