"""Fixtures for fault and soak tests: daphne processes of the project against a Redis the test may break."""

from __future__ import annotations

import pytest

from caching_app.devservers.asgi_servers import AsgiServer

# Short timeouts so a dead Redis answers fast, and per-client limits the load never reaches, so every
# refusal a test sees comes from a fault, not from a throttle. Login stays fail-closed (the default).
FAULT_ENV = {
    "REDIS_DIAL_TIMEOUT": "500ms",
    "REDIS_READ_TIMEOUT": "500ms",
    "REDIS_WRITE_TIMEOUT": "500ms",
    "REDIS_MAX_RETRIES": "1",
    "RATELIMIT_ANON": "100000/s",
    "RATELIMIT_USER": "100000/s",
    "RATELIMIT_LOGIN": "100000/s",
    "CHAT_RATE_LIMIT_REQUESTS": "100000",
    "REALTIME_FRAME_RATE_FRAMES": "100000",
}


@pytest.fixture
def daphne_on(daphne_factory, tmp_path):
    """``daphne_on(redis_url, **env)``: the whole project under daphne against ``redis_url`` (a fresh database
    each), with the fault environment above."""
    count = iter(range(1000))

    def start(redis_url: str, **env: str) -> AsgiServer:
        return daphne_factory({**FAULT_ENV, **env}, base_dir=tmp_path / f"daphne{next(count)}", redis_url=redis_url)

    return start
