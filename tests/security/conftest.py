"""Fixtures for the bad-input and access tests: users, tokens, and limits high enough not to interfere."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test.utils import override_settings

from sessions_app.jwt import devices
from sessions_app.jwt.tokens import SessionRefreshToken

PASSWORD = "correct-Horse-battery-9"


def bearer_for(user) -> str:
    """A real login's token pair, minus the password check: a device session in Redis and its access token."""
    session_id = devices.start(user, ip="127.0.0.1", user_agent="security-tests", device={})
    return str(SessionRefreshToken.for_session(user, session_id).access_token)


@pytest.fixture
def generous_rates():
    """Throttles that never answer 429 during a fuzzing run (the throttles have their own tests)."""
    rates = copy.deepcopy(settings.WINKR_RATELIMIT)
    rates["RATES"] = {scope: ["100000/s"] for scope in rates["RATES"]}
    realtime = {**settings.WINKR_REALTIME, "CHAT_RATE_LIMIT": {"requests": 100000, "window": 1}}
    with override_settings(WINKR_RATELIMIT=rates, WINKR_REALTIME=realtime):
        yield


@pytest.fixture
def people(db):
    User = get_user_model()
    return {name: User.objects.create_user(name, password=PASSWORD) for name in ("alice", "bob", "mallory")}
