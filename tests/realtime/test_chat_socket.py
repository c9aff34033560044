"""ws/chat/: delivery to every device, acks, replay with since, resync, and isolation between users."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import override_settings

from caching_app.foundation.connections import get_redis
from realtime_app import chat
from realtime_app.keys import conversation_key, conversation_tag
from sessions_app.jwt.websocket import user_group

from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


CLIENT_IDS = itertools.count()


async def send(communicator, to, text, client_id=None):
    """Send like a client does: a fresh client_id per message (a repeated one is a resend)."""
    client_id = client_id if client_id is not None else f"c{next(CLIENT_IDS)}"
    await communicator.send_json_to({"type": "chat.message", "to": to, "text": text, "client_id": client_id})
    return await communicator.receive_json_from(timeout=2)


async def redis_clock_past(message_id: str) -> None:
    """Wait until Redis' own clock is past the millisecond of ``message_id`` (stream ids take it from there)."""
    millisecond = int(message_id.split("-")[0])
    async with asyncio.timeout(2):
        while True:
            seconds, micros = await sync_to_async(get_redis("state").time)()
            if seconds * 1000 + micros // 1000 > millisecond:
                return
            await asyncio.sleep(0.001)


async def test_message_reaches_every_socket_of_recipient_and_senders_other_devices(users, connect):
    alice, bob = users["alice"], users["bob"]
    alice_phone, alice_laptop = await connect(alice), await connect(alice)
    bob_phone, bob_laptop = await connect(bob), await connect(bob)

    ack = await send(alice_phone, bob.pk, "hi bob", client_id="m-1")

    assert ack["type"] == "chat.ack" and ack["client_id"] == "m-1"
    expected = {"type": "chat.message", "id": ack["id"], "from": str(alice.pk), "to": str(bob.pk), "text": "hi bob",
                "sent_at": ack["sent_at"], "cursor": f"{ack['id']}@{conversation_tag(alice.pk, bob.pk)}"}
    for socket in (bob_phone, bob_laptop, alice_laptop):
        assert await socket.receive_json_from(timeout=2) == expected
    # The sending socket got the ack only, not a copy of its own message.
    assert await alice_phone.receive_nothing(timeout=0.2)
    entries = get_redis("state").xrange(conversation_key(alice.pk, bob.pk))
    assert [e[0].decode() for e in entries] == [ack["id"]]
    assert conversation_key(alice.pk, bob.pk) == conversation_key(bob.pk, alice.pk)


async def test_other_users_never_receive_the_conversation(users, connect):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    carol_chat = await connect(carol)
    carol_notes = await connect(carol, "/ws/notifications/")
    alice_socket = await connect(alice)
    await connect(bob)

    await send(alice_socket, bob.pk, "private")
    # Carol asks for a replay of everything, and of her "conversation" with alice: neither holds it.
    await carol_chat.send_json_to({"type": "chat.sync", "since": "0-0"})
    assert (await receive_until(carol_chat, "chat.synced"))[-1]["count"] == 0
    await carol_chat.send_json_to({"type": "chat.sync", "since": "0-0", "with": alice.pk})
    assert (await receive_until(carol_chat, "chat.synced"))[-1]["count"] == 0
    # She cannot call the channel-layer handlers by naming them in a frame.
    for kind in ("chat.deliver", "chat_deliver", "notification.deliver", "jwt.revoked", "jwt_revoked",
                 "websocket.disconnect"):
        await carol_chat.send_json_to({"type": kind, "message": {"id": "1-0", "from": "x", "to": str(carol.pk)}})
        assert (await carol_chat.receive_json_from(timeout=2))["code"] == "unknown_type"
    assert await carol_chat.receive_nothing(timeout=0.2)
    assert await carol_notes.receive_nothing(timeout=0.1)


async def test_reconnect_with_since_gets_exactly_the_missed_messages_in_order(users, connect):
    alice, bob = users["alice"], users["bob"]
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    seen = (await send(alice_socket, bob.pk, "before"))["id"]
    assert (await bob_socket.receive_json_from(timeout=2))["id"] == seen
    await bob_socket.disconnect()

    missed = [(await send(alice_socket, bob.pk, f"missed {i}", client_id=str(i)))["id"] for i in range(5)]
    back = await connect(bob, f"/ws/chat/?since={seen}")
    frames = await receive_until(back, "chat.synced")

    assert [f["id"] for f in frames[:-1]] == missed
    assert [f["text"] for f in frames[:-1]] == [f"missed {i}" for i in range(5)]
    assert frames[-1] == {"type": "chat.synced", "count": 5, "last_id": missed[-1], "cursor": frames[-2]["cursor"],
                          "more": False}
    # Live delivery resumes after the replay, once.
    live = (await send(alice_socket, bob.pk, "live"))["id"]
    assert (await back.receive_json_from(timeout=2))["id"] == live
    assert await back.receive_nothing(timeout=0.2)


async def test_replay_merges_conversations_and_sync_frame_works(users, connect):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    alice_socket, carol_socket = await connect(alice), await connect(carol)
    ids = []
    for socket, text in ((alice_socket, "a1"), (carol_socket, "c1"), (alice_socket, "a2")):
        ids.append((await send(socket, bob.pk, text))["id"])
        # Ids of two streams may share a millisecond (then neither sorts first): start the next one later.
        await redis_clock_past(ids[-1])
    bob_socket = await connect(bob)
    await bob_socket.send_json_to({"type": "chat.sync", "since": ids[0]})
    frames = await receive_until(bob_socket, "chat.synced")
    assert [(f["id"], f["text"]) for f in frames[:-1]] == [(ids[1], "c1"), (ids[2], "a2")]
    await bob_socket.send_json_to({"type": "chat.sync", "since": "0", "with": carol.pk})
    frames = await receive_until(bob_socket, "chat.synced")
    assert [f["text"] for f in frames[:-1]] == ["c1"]


async def test_live_message_during_replay_is_sent_once(users, connect):
    alice, bob = users["alice"], users["bob"]
    first = await sync_to_async(chat.send_message)(alice, bob.pk, "one")
    communicator_task = asyncio.ensure_future(connect(bob, "/ws/chat/?since=0-0"))
    second = await sync_to_async(chat.send_message)(alice, bob.pk, "two")
    bob_socket = await communicator_task
    frames = await receive_until(bob_socket, "chat.synced")
    # receive_nothing() does not cancel the application the way a timed-out receive would.
    while not await bob_socket.receive_nothing(timeout=0.5):
        frames.append(await bob_socket.receive_json_from())
    messages = [f["id"] for f in frames if f["type"] == "chat.message"]
    assert sorted(messages) == sorted({first.id, second.id}) and len(messages) == 2


@override_settings(WINKR_REALTIME={"CHAT_STREAM_MAXLEN": 10, "CHAT_RATE_LIMIT": {"requests": 10000, "window": 10}})
async def test_since_older_than_the_capped_stream_asks_for_resync(users, connect):
    alice, bob = users["alice"], users["bob"]
    first = await sync_to_async(chat.send_message)(alice, bob.pk, "oldest")
    for i in range(250):  # approximate trimming drops whole 100-entry nodes
        await sync_to_async(chat.send_message)(alice, bob.pk, f"m{i}")
    assert get_redis("state").xlen(conversation_key(alice.pk, bob.pk)) < 251

    bob_socket = await connect(bob, f"/ws/chat/?since={first.id}")
    frames = await receive_until(bob_socket, "chat.synced", wait=5)
    resync = [f for f in frames if f["type"] == "chat.resync_required"]
    assert resync == [{"type": "chat.resync_required", "with": str(alice.pk), "since": first.id}]
    # A recent cursor needs no resync.
    replayed = [f["id"] for f in frames if f["type"] == "chat.message"]
    assert len(replayed) == get_redis("state").xlen(conversation_key(alice.pk, bob.pk))
    recent = replayed[-1]
    await bob_socket.send_json_to({"type": "chat.sync", "since": recent})
    assert await receive_until(bob_socket, "chat.synced") == [
        {"type": "chat.synced", "count": 0, "last_id": recent, "cursor": recent, "more": False}]


async def test_revocation_event_closes_with_4401(users, connect):
    bob_socket = await connect(users["bob"])
    await get_channel_layer().group_send(user_group(users["bob"].pk), {"type": "jwt.revoked", "reason": "logout"})
    assert (await bob_socket.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4401}
