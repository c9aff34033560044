"""What a socket does with ``layer.resubscribed``: replay only what it did not send, or close with 4012."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.test import override_settings

from realtime_app import chat
from realtime_app.keys import chat_group, notification_group
from realtime_app.notifications import apublish_notification
from realtime_app.resubscribe import RESUBSCRIBED_EVENT
from tests.conftest import redis_settings

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_resubscription_replays_nothing_twice(users, connect):
    alice, bob = users["alice"], users["bob"]
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    sent = []
    for n in range(3):
        await alice_ws.send_json_to({"type": "chat.message", "to": bob.pk, "text": f"m{n}", "client_id": f"r{n}"})
        sent.append((await alice_ws.receive_json_from(timeout=2))["id"])
        assert (await bob_ws.receive_json_from(timeout=2))["id"] == sent[-1]
    for group in (chat_group(alice.pk), chat_group(bob.pk)):
        await get_channel_layer().group_send(group, RESUBSCRIBED_EVENT)
    # Everything was delivered (or acked) on these sockets already: the replay sends nothing, the next message
    # is the next frame on both.
    await alice_ws.send_json_to({"type": "chat.message", "to": bob.pk, "text": "next", "client_id": "r9"})
    assert (await alice_ws.receive_json_from(timeout=2))["type"] == "chat.ack"
    assert (await bob_ws.receive_json_from(timeout=2))["text"] == "next"


async def test_a_message_the_layer_lost_is_replayed_in_order(users, connect):
    alice, bob = users["alice"], users["bob"]
    bob_ws = await connect(bob)
    stored = await chat.asend_message(alice, bob.pk, "before")
    assert (await bob_ws.receive_json_from(timeout=2))["id"] == stored.id
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}):
        lost = [await chat.asend_message(alice, bob.pk, f"lost {n}") for n in range(2)]  # published elsewhere
    await get_channel_layer().group_send(chat_group(bob.pk), RESUBSCRIBED_EVENT)
    replayed = [await bob_ws.receive_json_from(timeout=2) for _ in range(2)]
    assert [(frame["id"], frame["text"]) for frame in replayed] == [(m.id, m.text) for m in lost]
    await get_channel_layer().group_send(chat_group(bob.pk), RESUBSCRIBED_EVENT)  # again: nothing new
    after = await chat.asend_message(alice, bob.pk, "after")
    assert (await bob_ws.receive_json_from(timeout=2))["id"] == after.id  # the next frame: no second copy


async def test_notifications_replay_after_a_resubscription(users, connect):
    bob = users["bob"]
    bob_ws = await connect(bob, "/ws/notifications/")
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}):
        lost = await apublish_notification(bob.pk, "match", "It's a match")
    await get_channel_layer().group_send(notification_group(bob.pk), RESUBSCRIBED_EVENT)
    frame = await bob_ws.receive_json_from(timeout=2)
    assert (frame["type"], frame["id"]) == ("notification", lost.id)
    await get_channel_layer().group_send(notification_group(bob.pk), RESUBSCRIBED_EVENT)
    after = await apublish_notification(bob.pk, "match", "Another")
    assert (await bob_ws.receive_json_from(timeout=2))["id"] == after.id  # the next frame: no second copy


async def test_a_socket_that_cannot_replay_is_closed_with_4012(users, connect, spawn_redis, redis_server):
    """The Streams' server is gone while the layer's is back: the client must reconnect with since."""
    state = spawn_redis()
    servers = redis_settings(redis_server.url)
    servers["state"]["URL"] = state.url
    layer = {"BACKEND": "realtime_app.layers.RedisPubSubChannelLayer", "CONFIG": {"aliases": ["cache"]}}
    with override_settings(WINKR_REDIS=servers, CHANNEL_LAYERS={"default": layer}):
        bob_ws = await connect(users["bob"])
        state.kill()
        await get_channel_layer().group_send(chat_group(users["bob"].pk), RESUBSCRIBED_EVENT)
        assert await bob_ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4012}
