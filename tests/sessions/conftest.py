"""Fixtures for sessions_app tests: real Redis (tests/conftest.py) and a database for users."""

from __future__ import annotations

import pytest
import redis as redis_py

from caching_app.foundation.connections import get_redis
from sessions_app.signals import device_session_revoked


@pytest.fixture
def raw_redis(redis_server):
    """A plain client on the test server, for looking at keys the way an operator would."""
    client = redis_py.Redis(port=redis_server.port)
    yield client
    client.close()


@pytest.fixture
def state():
    return get_redis("state")


@pytest.fixture
def revoked():
    """Every device_session_revoked signal sent during the test, as dicts."""
    received: list[dict] = []

    def receiver(sender, **kwargs):
        kwargs.pop("signal", None)
        received.append(kwargs)

    device_session_revoked.connect(receiver, dispatch_uid="tests.sessions.revoked")
    yield received
    device_session_revoked.disconnect(dispatch_uid="tests.sessions.revoked")


def indexed(client, index) -> set[bytes]:
    """Every member of a sharded all-users index (``sessions_app.indexes``), read bucket by bucket."""
    return {member for key in index.read_keys() for member in client.zrange(key, 0, -1)}
