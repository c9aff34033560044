"""Channels: JWT from ?token= or Sec-WebSocket-Protocol, 4401 on bad tokens, open sockets closed on revocation."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from sessions_app import services
from sessions_app.jwt import devices
from sessions_app.jwt.tokens import SessionRefreshToken
from sessions_app.jwt.websocket import JWTAuthMiddlewareStack, RevocableJsonConsumer

pytestmark = pytest.mark.django_db(transaction=True)


class EchoConsumer(RevocableJsonConsumer):
    async def receive_json(self, content, **kwargs):
        await self.send_json({"you": self.scope["user"].get_username(), "echo": content})


application = JWTAuthMiddlewareStack(EchoConsumer.as_asgi())


async def login(user):
    session = await services.acreate_session(user.pk, kind="jwt")
    refresh = SessionRefreshToken.for_session(user, session.id)
    return session.id, str(refresh.access_token)


async def connect(path="/ws/", subprotocols=None):
    communicator = WebsocketCommunicator(application, path, subprotocols=subprotocols)
    connected, subprotocol = await communicator.connect()
    return communicator, connected, subprotocol


async def assert_closed_4401(communicator):
    message = await communicator.receive_output(timeout=3)
    assert message == {"type": "websocket.close", "code": 4401}
    await communicator.wait()


async def test_query_token_connects_and_sees_the_user(user):
    _, access = await login(user)
    communicator, connected, _ = await connect(f"/ws/?token={access}")
    assert connected
    await communicator.send_json_to({"hi": 1})
    assert await communicator.receive_json_from() == {"you": "alice", "echo": {"hi": 1}}
    await communicator.disconnect()


async def test_subprotocol_token_is_accepted_with_the_bearer_protocol(user):
    _, access = await login(user)
    communicator, connected, subprotocol = await connect("/ws/", subprotocols=["bearer", access])
    assert connected and subprotocol == "bearer"
    await communicator.disconnect()


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 20000])
async def test_invalid_tokens_close_with_4401(user, token):
    communicator, connected, _ = await connect(f"/ws/?token={token}")
    assert connected  # accepted only to deliver the close code
    await assert_closed_4401(communicator)


async def test_anonymous_socket_is_closed_with_4401():
    communicator, connected, _ = await connect("/ws/")
    assert connected
    await assert_closed_4401(communicator)


async def test_revoked_token_is_refused(user):
    session_id, access = await login(user)
    await sync_to_async(devices.end)(user.pk, session_id)
    communicator, _, _ = await connect(f"/ws/?token={access}")
    await assert_closed_4401(communicator)


async def test_open_socket_is_closed_when_its_device_session_is_revoked(user):
    session_id, access = await login(user)
    other_id, other_access = await login(user)
    communicator, connected, _ = await connect(f"/ws/?token={access}")
    other, other_connected, _ = await connect(f"/ws/?token={other_access}")
    assert connected and other_connected
    await services.adelete_session(session_id)  # admin, DELETE /api/sessions/{id}/, eviction: same signal
    await assert_closed_4401(communicator)
    await other.send_json_to({"still": "here"})
    assert (await other.receive_json_from())["echo"] == {"still": "here"}
    await other.disconnect()


async def test_logout_everywhere_closes_every_socket_of_the_user(user):
    sockets = []
    for _ in range(2):
        _, access = await login(user)
        communicator, connected, _ = await connect(f"/ws/?token={access}")
        assert connected
        sockets.append(communicator)
    await sync_to_async(devices.end_all)(user.pk)
    for communicator in sockets:
        await assert_closed_4401(communicator)
