"""Bad frames get an error frame and the socket stays usable; auth and origin are enforced."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

from winkr.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def assert_still_usable(socket):
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=2) == {"type": "pong"}


@pytest.mark.parametrize(("frame", "code"), [
    ("{not json", "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    ('"chat.message"', "invalid_frame"),
    ("{}", "unknown_type"),
    ('{"type": "chat.mesage"}', "unknown_type"),
    ('{"type": 7}', "unknown_type"),
    ('{"type": "chat.message", "text": "hi"}', "missing_field"),
    ('{"type": "chat.message", "to": 1}', "missing_field"),
    ('{"type": "chat.message", "to": "abc", "text": "hi"}', "invalid_recipient"),
    ('{"type": "chat.message", "to": [1], "text": "hi"}', "invalid_recipient"),
    ('{"type": "chat.message", "to": true, "text": "hi"}', "invalid_recipient"),
    ('{"type": "chat.message", "to": 999999, "text": "hi"}', "recipient_not_found"),
    ('{"type": "chat.message", "to": "BOB", "text": 5}', "invalid_text"),
    ('{"type": "chat.message", "to": "BOB", "text": "   "}', "invalid_text"),
    ('{"type": "chat.message", "to": "BOB", "text": "x", "client_id": {"a": 1}}', "invalid_client_id"),
    ('{"type": "chat.message", "to": "ALICE", "text": "me"}', "invalid_recipient"),
    ('{"type": "chat.sync"}', "missing_field"),
    ('{"type": "chat.sync", "since": "yesterday"}', "invalid_since"),
    ('{"type": "chat.sync", "since": "1-2-3"}', "invalid_since"),
    ('{"type": "chat.sync", "since": "0", "with": "x:y"}', "invalid_recipient"),
    # Nested deeper than the JSON parser's recursion limit, yet far under MAX_FRAME_BYTES: RecursionError,
    # not ValueError, which used to crash the consumer (close 1011) instead of answering an error frame.
    ("[" * 2000 + "]" * 2000, "invalid_json"),
])
async def test_bad_frames_get_an_error_code_and_the_socket_stays_open(users, connect, frame, code):
    frame = frame.replace('"BOB"', str(users["bob"].pk)).replace('"ALICE"', str(users["alice"].pk))
    socket = await connect(users["alice"])
    await socket.send_to(text_data=frame)
    reply = await socket.receive_json_from(timeout=2)
    assert reply["type"] == "error" and reply["code"] == code, reply
    await assert_still_usable(socket)


@override_settings(WINKR_REALTIME={"MAX_TEXT_LENGTH": 10, "MAX_FRAME_BYTES": 200})
async def test_size_limits(users, connect):
    socket = await connect(users["alice"])
    bob = users["bob"].pk
    await socket.send_json_to({"type": "chat.message", "to": bob, "text": "x" * 11, "client_id": "long"})
    assert await socket.receive_json_from(timeout=2) == {
        "type": "error", "code": "text_too_long", "detail": "'text' is longer than 10 characters.", "client_id": "long"}
    await socket.send_to(text_data=json.dumps({"type": "chat.message", "to": bob, "text": "é" * 150}))
    assert (await socket.receive_json_from(timeout=2))["code"] == "frame_too_large"
    await socket.send_to(bytes_data=b"\x00\x01")
    assert (await socket.receive_json_from(timeout=2))["code"] == "binary_not_supported"
    await socket.send_json_to({"type": "chat.message", "to": bob, "text": "x" * 10})
    assert (await socket.receive_json_from(timeout=2))["type"] == "chat.ack"


@override_settings(WINKR_REALTIME={"SEND_POLICY": "tests.realtime.policies.same_initial"})
async def test_send_policy_hook(users, connect):
    socket = await connect(users["bob"])
    await socket.send_json_to({"type": "chat.message", "to": users["carol"].pk, "text": "hi"})
    assert (await socket.receive_json_from(timeout=2))["code"] == "not_allowed"


async def test_inactive_recipient_is_not_found(users, connect):
    users["bob"].is_active = False
    await users["bob"].asave()
    socket = await connect(users["alice"])
    await socket.send_json_to({"type": "chat.message", "to": users["bob"].pk, "text": "hi"})
    assert (await socket.receive_json_from(timeout=2))["code"] == "recipient_not_found"


@override_settings(WINKR_REALTIME={"CHAT_RATE_LIMIT": {"requests": 3, "window": 60}})
async def test_chat_rate_limit(users, connect):
    socket = await connect(users["alice"])
    replies = []
    for i in range(5):
        await socket.send_json_to({"type": "chat.message", "to": users["bob"].pk, "text": f"{i}", "client_id": f"{i}"})
        replies.append(await socket.receive_json_from(timeout=2))
    assert [r["type"] for r in replies] == ["chat.ack"] * 3 + ["error"] * 2
    assert replies[3]["code"] == "rate_limited" and 0 < replies[3]["retry_after"] <= 60
    await assert_still_usable(socket)


# --- through the project's ASGI application: origin check and authentication -------------------------------

def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/notifications/"])
async def test_anonymous_socket_is_closed_with_4401(transactional_db, path):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://testserver"),
                                                                     (b"host", b"testserver")])
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
    await communicator.wait()


async def test_session_cookie_authenticates_and_foreign_origin_is_refused(users):
    cookie = await sync_to_async_cookie(users["alice"])
    good = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)])
    connected, _ = await good.connect()
    assert connected
    await assert_still_usable(good)
    await good.disconnect()

    evil = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"origin", b"http://evil.example"), (b"host", b"testserver"), (b"cookie", cookie)])
    connected, _ = await evil.connect()
    assert not connected


async def sync_to_async_cookie(user) -> bytes:
    from asgiref.sync import sync_to_async

    return await sync_to_async(session_cookie)(user)


async def test_jwt_socket_is_closed_with_4401_when_its_device_logs_out(users):
    from asgiref.sync import sync_to_async

    client = Client()
    tokens = (await sync_to_async(client.post)("/api/auth/token/", {"username": "bob", "password": "pw-bob"},
                                               content_type="application/json")).json()
    socket = WebsocketCommunicator(application, f"/ws/chat/?token={tokens['access']}", headers=[
        (b"origin", b"http://testserver"), (b"host", b"testserver")])
    connected, _ = await socket.connect()
    assert connected
    await assert_still_usable(socket)
    response = await sync_to_async(client.post)("/api/auth/logout/", {}, content_type="application/json",
                                                 HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert response.status_code in (200, 204, 205)
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
