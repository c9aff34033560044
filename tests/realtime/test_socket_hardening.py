"""Issue 14 (findings 1, 3, 10) and issue 16 item 4, in process against the real test Redis.

The daphne + ``websockets`` side of the same findings is in ``test_socket_hardening_daphne.py``.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

from caching_app.foundation.connections import get_redis
from realtime_app.keys import chat_group, conversation_key, partners_key
from sessions_app import services
from winkr.asgi import application

from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def heartbeats() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if "heartbeat_loop" in repr(t.get_coro()) and not t.done()]


def seed_conversation(alice, bob, count: int, text: str = "x") -> list[str]:
    """``count`` stored messages alice -> bob (straight into the Stream: the chat rate limit is not the subject)."""
    client = get_redis("state")
    ids = [client.xadd(conversation_key(alice.pk, bob.pk), {"from": str(alice.pk), "to": str(bob.pk),
                                                             "text": f"{text}{i}"}).decode() for i in range(count)]
    for owner, partner in ((alice.pk, bob.pk), (bob.pk, alice.pk)):
        client.zadd(partners_key(owner), {str(partner): 10**13})
    return ids


async def sync_all(socket, frame: dict) -> tuple[list[dict], list[dict]]:
    """Follow ``more`` to the end: (messages, synced frames)."""
    messages, pages = [], []
    while True:
        await socket.send_json_to(frame)
        frames = await receive_until(socket, frame["type"].replace(".sync", ".synced"))
        messages += [f for f in frames[:-1] if f["type"] in ("chat.message", "notification")]
        pages.append(frames[-1])
        if not frames[-1]["more"]:
            return messages, pages
        frame = {**frame, "since": frames[-1].get("cursor", frames[-1]["last_id"])}


# --- finding 1: paged replay -------------------------------------------------------------------------------

@override_settings(WINKR_REALTIME={"REPLAY_PAGE_SIZE": 100})
async def test_chat_sync_is_paged_and_the_pages_add_up_to_the_whole_conversation(users, connect):
    ids = await sync_to_async(seed_conversation)(users["alice"], users["bob"], 240)
    socket = await connect(users["bob"])
    messages, pages = await sync_all(socket, {"type": "chat.sync", "since": "0"})
    assert [p["count"] for p in pages] == [100, 100, 40]
    assert [p["more"] for p in pages] == [True, True, False]
    assert [m["id"] for m in messages] == ids


@override_settings(WINKR_REALTIME={"REPLAY_PAGE_SIZE": 7})
async def test_paged_replay_over_many_conversations_keeps_the_merged_order(users, connect):
    from django.contrib.auth import get_user_model

    bob = users["bob"]
    partners = [await get_user_model().objects.acreate_user(f"p{i}") for i in range(5)]
    client = get_redis("state")
    expected = []
    for round_ in range(6):  # interleaved: each round one message in every conversation
        for index, partner in enumerate(partners[: 5 - round_ % 3]):
            entry = client.xadd(conversation_key(bob.pk, partner.pk),
                                {"from": str(partner.pk), "to": str(bob.pk), "text": f"{round_}.{index}"})
            expected.append(entry.decode())
    for partner in partners:
        client.zadd(partners_key(bob.pk), {str(partner.pk): 10**13})
    socket = await connect(bob)
    messages, pages = await sync_all(socket, {"type": "chat.sync", "since": "0"})
    assert all(p["count"] <= 7 for p in pages) and pages[-1]["more"] is False
    assert [m["id"] for m in messages] == sorted(expected, key=lambda i: tuple(map(int, i.split("-"))))
    assert len({(m["id"], m["cursor"]) for m in messages}) == len(expected)


@override_settings(WINKR_REALTIME={"REPLAY_PAGE_SIZE": 10})
async def test_notification_sync_is_paged(users, connect):
    from realtime_app.notifications import apublish_notification

    ids = [(await apublish_notification(users["bob"].pk, "k", f"t{i}")).id for i in range(25)]
    socket = await connect(users["bob"], "/ws/notifications/")
    items, pages = await sync_all(socket, {"type": "notification.sync", "since": "0"})
    assert [p["count"] for p in pages] == [10, 10, 5] and [p["more"] for p in pages] == [True, True, False]
    assert [i["id"] for i in items] == ids


# --- finding 3: lone surrogates, handler errors, cleanup on every path --------------------------------------

@override_settings(WINKR_REALTIME={"SEND_POLICY": "tests.realtime.policies.explode_for_carol"})
async def test_surrogates_and_handler_bugs_get_error_frames_and_cleanup_always_runs(users, connect):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    socket = await connect(alice)
    assert await services.ais_user_online(alice.pk) and len(heartbeats()) == 1
    await socket.send_to(text_data=f'{{"type": "chat.message", "to": {bob.pk}, "text": "\\ud800"}}')
    assert (await socket.receive_json_from(timeout=2))["code"] == "invalid_text"
    await socket.send_to(text_data=f'{{"type": "chat.message", "to": {bob.pk}, "text": "hi", "client_id": "\\udfff"}}')
    assert (await socket.receive_json_from(timeout=2))["code"] == "invalid_client_id"
    await socket.send_json_to({"type": "chat.message", "to": carol.pk, "text": "hi"})
    assert (await socket.receive_json_from(timeout=2))["code"] == "internal_error"
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=2) == {"type": "pong"}
    await socket.disconnect()
    assert not await services.ais_user_online(alice.pk)
    assert heartbeats() == []


async def test_a_failing_channel_layer_handler_closes_4011_with_cleanup(users, connect):
    alice = users["alice"]
    socket = await connect(alice)
    # A malformed event (no "to"): chat_deliver raises. The socket closes with 4011 so the client re-syncs.
    await get_channel_layer().group_send(chat_group(alice.pk), {"type": "chat.deliver",
                                                                "message": {"from": str(alice.pk), "id": "1-0"}})
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4011}
    await socket.disconnect()
    assert not await services.ais_user_online(alice.pk)
    assert heartbeats() == []


async def test_a_cancelled_socket_task_still_cleans_up(users):
    """daphne cancels an application that outlives its socket: cleanup runs in the mixin's finally."""
    from channels.routing import URLRouter

    from realtime_app.routing import websocket_urlpatterns

    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    socket.scope["user"] = users["alice"]
    assert (await socket.connect())[0]
    assert await services.ais_user_online(users["alice"].pk)
    socket.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await socket.future
    assert not await services.ais_user_online(users["alice"].pk)
    assert heartbeats() == []


def test_rest_chat_refuses_lone_surrogates_with_400(users):
    client = Client()
    client.force_login(users["alice"])
    url = f"/api/chat/{users['bob'].pk}/messages/"
    # The JSON parser (caching_app.parsers) refuses the body before the view, naming the field.
    for body, field in [('{"text": "\\ud800"}', "text"), ('{"text": "hi", "client_id": "\\udfff"}', "client_id")]:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert field in response.json()["detail"], response.json()
    assert client.get(url + "?before=%ED%A0%80").status_code == 400


# --- issue 16 item 4: one mechanism -------------------------------------------------------------------------

async def test_groups_are_joined_and_left_by_the_one_mechanism(users, connect):
    from realtime_app.consumers import ChatConsumer
    from sessions_app.jwt.websocket import user_group

    def subscribed(group: str) -> list:
        return get_redis("state").pubsub_channels(f"*{group}")

    alice = users["alice"]
    socket = await connect(alice)
    assert subscribed(chat_group(alice.pk)) and subscribed(user_group(alice.pk))
    await socket.disconnect()
    assert subscribed(chat_group(alice.pk)) == [] and subscribed(user_group(alice.pk)) == []
    # One list of groups (Channels' ``groups``, filled by RevocationMixin), no second bookkeeping.
    assert not hasattr(ChatConsumer, "joined") and not hasattr(ChatConsumer, "user_groups")


# --- finding 10: origin, last_seen, hidden status ------------------------------------------------------------

@pytest.mark.parametrize(("origin", "accepted"), [
    (b"http://testserver", True), (b"http://testserver:1", False), (b"https://testserver", False),
    (b"http://evil.example", False), (None, False),
])
async def test_origin_must_match_scheme_host_and_port(users, origin, accepted):
    cookie = await sync_to_async(_cookie)(users["alice"])
    headers = [(b"host", b"testserver"), (b"cookie", cookie)] + ([(b"origin", origin)] if origin else [])
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await socket.connect()
    assert connected is accepted
    await socket.disconnect()


@override_settings(CSRF_TRUSTED_ORIGINS=["https://*.winkr.example"])
async def test_csrf_trusted_origins_are_accepted(users):
    cookie = await sync_to_async(_cookie)(users["alice"])
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"host", b"testserver"), (b"cookie", cookie), (b"origin", b"https://app.winkr.example")])
    assert (await socket.connect())[0]
    await socket.disconnect()


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def test_last_seen_is_rounded_for_others_and_hidden_status_is_honoured(users):
    alice, bob = users["alice"], users["bob"]
    services.mark_connection_alive(alice.pk, "sock-1", 30)
    services.mark_connection_closed(alice.pk, "sock-1")
    mine, theirs = Client(), Client()
    mine.force_login(alice)
    theirs.force_login(bob)
    exact = mine.get("/api/users/me/presence/").json()
    assert exact["hidden"] is False and exact["last_seen"]
    seen = theirs.get(f"/api/users/{alice.pk}/presence/").json()["last_seen"]
    from datetime import datetime
    rounded = datetime.fromisoformat(seen)
    assert rounded.timestamp() % 300 == 0 and rounded <= datetime.fromisoformat(exact["last_seen"])

    services.mark_connection_alive(alice.pk, "sock-2", 30)
    assert theirs.get(f"/api/users/{alice.pk}/presence/").json()["online"] is True
    response = mine.patch("/api/users/me/presence/", {"hidden": True}, content_type="application/json")
    assert response.status_code == 200 and response.json()["hidden"] is True
    assert theirs.get(f"/api/users/{alice.pk}/presence/").json() == {"online": False, "last_seen": None}
    assert mine.get(f"/api/users/{alice.pk}/presence/").json()["online"] is True  # the user still sees the truth
    assert mine.patch("/api/users/me/presence/", {"hidden": "maybe"}, content_type="application/json"
                      ).status_code == 400
    # PATCH is partial: an empty body changes nothing (the schema's PatchedPresenceSettings has no required field).
    unchanged = mine.patch("/api/users/me/presence/", {}, content_type="application/json")
    assert unchanged.status_code == 200 and unchanged.json()["hidden"] is True
    mine.patch("/api/users/me/presence/", {"hidden": False}, content_type="application/json")
    assert theirs.get(f"/api/users/{alice.pk}/presence/").json()["online"] is True
