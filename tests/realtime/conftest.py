"""Fixtures for realtime_app: users, and communicators connected as a user."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from realtime_app.routing import websocket_urlpatterns
from realtime_app.send_script import single_server


@pytest.fixture
def users(transactional_db):
    User = get_user_model()
    return {name: User.objects.create_user(name, password="pw-" + name) for name in ("alice", "bob", "carol")}


@pytest.fixture
async def connect():
    """``await connect(user, "/ws/chat/?since=...")`` -> a connected communicator; all disconnected afterwards."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user, path: str = "/ws/chat/") -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await communicator.disconnect()


async def receive_until(communicator: WebsocketCommunicator, frame_type: str, wait: float = 2.0) -> list[dict]:
    """Frames up to and including the first of ``frame_type``."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=wait)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


@pytest.fixture
def publish_after_store(settings):
    """The rate limit on another server (here: database), so no script spans a chat send: the message is
    stored, then published by a step of its own (realtime_app.chat._store_by_slot, as on a Cluster)."""
    redis_config = {alias: dict(options) for alias, options in settings.WINKR_REDIS.items()}
    redis_config["cache"]["URL"] = redis_config["cache"]["URL"].rsplit("/", 1)[0] + "/5"  # elsewhere
    settings.WINKR_REDIS = redis_config
    settings.WINKR_RATELIMIT = {**settings.WINKR_RATELIMIT, "REDIS_ALIAS": "cache"}
    assert not single_server()  # the counters are on another server: no script can span them
