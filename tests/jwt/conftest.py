"""Fixtures for the JWT tests: users, token minting and raw Redis inspection (the test's own client)."""

from __future__ import annotations

import pytest
import redis
from rest_framework.test import APIClient

from sessions_app.jwt.tokens import SessionRefreshToken

PASSWORD = "correct-Horse-battery-9"


@pytest.fixture
def raw_redis(redis_server):
    """A plain client for asserting on keys and TTLs (never used by the code under test)."""
    client = redis.Redis(port=redis_server.port)
    yield client
    client.close()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD, email="a@example.com")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


@pytest.fixture
def mint():
    """Mint a (refresh, access) pair for ``user`` in device session ``sid`` without sessions_app."""

    def mint(user, sid="sid-1"):
        refresh = SessionRefreshToken.for_session(user, sid)
        return refresh, refresh.access_token

    return mint


@pytest.fixture
def api():
    return APIClient()


def bearer(token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
