"""``WINKR_RATELIMIT``: rates per scope, algorithm, fail policy and proxies, read at call time."""

from __future__ import annotations

from typing import Any

from caching_app.foundation.settings import AppSettings

ALGORITHMS = ("sliding_log", "sliding_window")

DEFAULTS: dict[str, Any] = {
    # Redis alias holding the counters: rate limits must never be evicted.
    "REDIS_ALIAS": "state",
    # scope -> one rate or a list of rates (all must pass; the binding one decides).
    # Scopes missing here fall back to REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].
    "RATES": {
        "anon": ["20/s", "1000/h"],
        "user": ["50/s", "5000/h"],
        "login": ["5/15m", "20/day"],
    },
    # "sliding_log" (exact, one sorted-set entry per request in the window) or
    # "sliding_window" (O(1) memory, weighted previous window: approximate at window edges).
    "ALGORITHM": "sliding_log",
    "ALGORITHMS": {},  # per-scope override
    # When Redis is unreachable: allow (fail open, logged and counted) or answer 503.
    "FAIL_OPEN": True,
    "FAIL_CLOSED_SCOPES": ["login"],
    # Number of reverse proxies in front of Django that append to X-Forwarded-For.
    # 0 = use REMOTE_ADDR only (X-Forwarded-For is never trusted).
    "TRUSTED_PROXIES": 0,
    # IPv6 clients are limited per network of this prefix (one host usually owns a /64).
    "IPV6_PREFIX": 64,
    # Field of the login request body naming the account (LoginRateThrottle).
    "LOGIN_USERNAME_FIELD": "username",
    # Longest username a login attempt may carry (longer: 400, never counted). None: the user model's field.
    "LOGIN_USERNAME_MAX_LENGTH": None,
    # Send RateLimit-Policy / RateLimit and X-RateLimit-* on throttled endpoints.
    "HEADERS": True,
}

ratelimit_settings = AppSettings("WINKR_RATELIMIT", DEFAULTS)
