"""The sessions and rate_limit components against the real sessions_app and ratelimit_app."""

from __future__ import annotations

import pytest

from caching_app.foundation.connections import get_redis


def test_sessions_component_counts_sessions_and_online_users(operator):
    services = pytest.importorskip("sessions_app.services")
    services.create_session("health-user-1", kind="jwt")
    services.create_session("health-user-1", kind="jwt")
    services.create_session("health-user-2", kind="jwt")
    services.mark_connection_alive("health-user-2", "conn-1", ttl=60)
    body = operator.get("/health/sessions").json()
    assert body["status"] == "healthy", body
    assert body["active_sessions"] == 3
    assert body["online_users"] == services.count_online_users() >= 1

    metrics = operator.get("/health/metrics").json()["sessions"]
    assert metrics == {"active_sessions": 3, "online_users": body["online_users"]}
    text = operator.get("/health/metrics?format=prometheus").content.decode()
    assert "winkr_health_active_sessions 3.0" in text


def test_rate_limit_probe_never_touches_user_limits(operator):
    limiter = pytest.importorskip("ratelimit_app.limiter")
    user_config = limiter.RateLimitConfig(2, 60, "login", "ip")
    assert limiter.check_rate_limit(user_config, "203.0.113.7").remaining == 1
    before = {key: get_redis("state").zcard(key) for key in get_redis("state").keys("*rl*")}

    for _ in range(3):
        body = operator.get("/health/rate_limit").json()
        assert body["status"] == "healthy", body
        assert body["standard_test"] == {"allowed": True, "remaining": 1}
        assert body["limit_test"]["allowed"] is False

    after = {key: get_redis("state").zcard(key) for key in before}
    assert after == before  # the user's window is exactly as it was
    assert limiter.check_rate_limit(user_config, "203.0.113.7").remaining == 0
    probe_keys = [key for key in get_redis("state").keys("*rl*") if b"winkr_health" in key]
    assert probe_keys and all(0 < get_redis("state").pttl(key) <= 6000 for key in probe_keys)
