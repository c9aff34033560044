"""Fixtures for health_app tests: the health token, short probe timeouts, API clients."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test.utils import override_settings
from rest_framework.test import APIClient

TOKEN = "health-token-for-tests-0123456789abcdef"


def health_settings(**options) -> dict:
    return {**settings.WINKR_HEALTH, "TOKEN": TOKEN, "TIMEOUT": 2.0, "PROBE_SOCKET_TIMEOUT": 0.5, **options}


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
