"""Fixtures for health_app tests: the health token, short probe timeouts, API clients."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test.utils import override_settings
from rest_framework.test import APIClient

from caching_app.devservers.redis_servers import RedisServerProcess

TOKEN = "health-token-for-tests-0123456789abcdef"
_PROJECT_HEALTH = dict(settings.WINKR_HEALTH)


def health_settings(**options) -> dict:
    """The project's WINKR_HEALTH with the test token, short timeouts and ``options``.

    These tests change Redis between two requests of one test, so the anonymous status is not
    shared across requests here (interval 0); tests/security/test_http_hardening*.py test the sharing.
    """
    return {**_PROJECT_HEALTH, "TOKEN": TOKEN, "TIMEOUT": 2.0, "PROBE_SOCKET_TIMEOUT": 0.5,
            "ANONYMOUS_STATUS_INTERVAL": 0, **options}


@pytest.fixture(autouse=True)
def _health_settings():
    with override_settings(WINKR_HEALTH=health_settings()):
        yield


@pytest.fixture
def configure_health():
    """``configure_health(TIMEOUT=...)`` overrides WINKR_HEALTH keys for one test."""
    overrides = []

    def configure(**options):
        override = override_settings(WINKR_HEALTH=health_settings(**options))
        override.enable()
        overrides.append(override)

    yield configure
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def operator():
    """A client holding the health token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


class SentinelProcess(RedisServerProcess):
    """A real Redis Sentinel: ``redis-server <config> --sentinel`` (it needs a writable config file)."""

    def __init__(self, data_dir, primary_port: int, quorum: int = 1):
        super().__init__(data_dir)
        self.primary_port = primary_port
        self.quorum = quorum

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.data_dir}\nlogfile {self.data_dir / 'redis.log'}\n"
            f"sentinel monitor mymaster 127.0.0.1 {self.primary_port} {self.quorum}\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
        )
        return [self.binary, str(config), "--sentinel"]


@pytest.fixture
def spawn_sentinel(tmp_path):
    started: list[SentinelProcess] = []

    def spawn(primary_port: int, quorum: int = 1) -> SentinelProcess:
        sentinel = SentinelProcess(tmp_path / f"sentinel{len(started)}", primary_port, quorum)
        started.append(sentinel.start())
        return sentinel

    yield spawn
    for sentinel in started:
        sentinel.stop()
