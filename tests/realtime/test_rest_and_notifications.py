"""REST chat and notifications, publish_notification from sync and async code, PubSubService."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings

from caching_app.foundation.connections import get_redis
from realtime_app.keys import notifications_key
from realtime_app.notifications import apublish_notification, publish_notification
from realtime_app.pubsub import PubSubService

from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def test_rest_post_takes_the_socket_path_and_reaches_sockets(users, connect):
    alice, bob = users["alice"], users["bob"]
    bob_socket, alice_socket = await connect(bob), await connect(alice)
    client = await sync_to_async(logged_in)(alice)
    response = await sync_to_async(client.post)(
        f"/api/chat/{bob.pk}/messages/", {"text": "from REST"}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["from"] == str(alice.pk) and body["to"] == str(bob.pk) and body["text"] == "from REST"
    assert await bob_socket.receive_json_from(timeout=2) == body
    assert await alice_socket.receive_json_from(timeout=2) == body  # the sender's devices see it too


def test_rest_history_pages_backwards(users):
    alice, bob = users["alice"], users["bob"]
    client = logged_in(alice)
    sent = [client.post(f"/api/chat/{bob.pk}/messages/", {"text": f"m{i}"}, content_type="application/json").json()
            for i in range(5)]
    page = logged_in(bob).get(f"/api/chat/{alice.pk}/messages/?limit=2").json()
    assert [m["text"] for m in page["messages"]] == ["m3", "m4"]
    page2 = logged_in(bob).get(f"/api/chat/{alice.pk}/messages/?limit=2&before={page['next_before']}").json()
    assert [m["text"] for m in page2["messages"]] == ["m1", "m2"]
    last = logged_in(bob).get(f"/api/chat/{alice.pk}/messages/?before={sent[1]['id']}").json()
    assert [m["text"] for m in last["messages"]] == ["m0"] and last["next_before"] is None
    # Carol asking for alice's messages sees only her own (empty) conversation with alice.
    assert logged_in(users["carol"]).get(f"/api/chat/{alice.pk}/messages/").json()["messages"] == []


@override_settings(WINKR_REALTIME={"CHAT_RATE_LIMIT": {"requests": 1, "window": 60}, "MAX_TEXT_LENGTH": 5})
def test_rest_errors_are_json_with_codes(users):
    alice, bob = users["alice"], users["bob"]
    client = logged_in(alice)
    url = f"/api/chat/{bob.pk}/messages/"
    cases = [
        (client.post(url, {}, content_type="application/json"), 400, "missing_field"),
        (client.post(url, {"text": ""}, content_type="application/json"), 400, "invalid_text"),
        (client.post(url, {"text": "toolong"}, content_type="application/json"), 400, "text_too_long"),
        (client.post("/api/chat/987654/messages/", {"text": "hi"}, content_type="application/json"), 404,
         "recipient_not_found"),
        (client.post("/api/chat/abc/messages/", {"text": "hi"}, content_type="application/json"), 400,
         "invalid_recipient"),
        (client.get(url + "?limit=0"), 400, "invalid_limit"),
        (client.get(url + "?limit=x"), 400, "invalid_limit"),
        (client.get(url + "?before=nope"), 400, "invalid_before"),  # was invalid_since: the wrong field named
        (client.get("/api/notifications/?since=nope"), 400, "invalid_since"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert client.post(url, {"text": "ok"}, content_type="application/json").status_code == 201
    limited = client.post(url, {"text": "again"}, content_type="application/json")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert Client().get(url).status_code in (401, 403)


async def test_notifications_reach_every_socket_of_that_user_only(users, connect):
    bob, carol = users["bob"], users["carol"]
    bob_a, bob_b = await connect(bob, "/ws/notifications/"), await connect(bob, "/ws/notifications/")
    carol_socket = await connect(carol, "/ws/notifications/")
    bob_chat = await connect(bob)
    from_sync = await sync_to_async(publish_notification)(bob.pk, "like", "Someone likes you", {"n": 1})
    from_async = await apublish_notification(bob.pk, "visit", "A visit", None)
    for socket in (bob_a, bob_b):
        frames = [await socket.receive_json_from(timeout=2) for _ in range(2)]
        assert frames == [from_sync.as_frame(), from_async.as_frame()]
        assert frames[0]["data"] == {"n": 1} and frames[0]["kind"] == "like"
    assert await carol_socket.receive_nothing(timeout=0.2)
    assert await bob_chat.receive_nothing(timeout=0.05)


async def test_missed_notifications_over_rest_and_socket_replay(users, connect):
    bob = users["bob"]
    first = await apublish_notification(bob.pk, "like", "1")
    second = await apublish_notification(bob.pk, "like", "2")
    third = await apublish_notification(bob.pk, "like", "3")
    bob_client, carol_client = await sync_to_async(logged_in)(bob), await sync_to_async(logged_in)(users["carol"])
    body = (await sync_to_async(bob_client.get)(f"/api/notifications/?since={first.id}")).json()
    assert [n["id"] for n in body["notifications"]] == [second.id, third.id]
    assert body["resync_required"] is False and body["last_id"] == third.id
    carol_view = (await sync_to_async(carol_client.get)("/api/notifications/")).json()
    assert carol_view["notifications"] == []

    socket = await connect(bob, f"/ws/notifications/?since={second.id}")
    frames = await receive_until(socket, "notification.synced")
    assert [f["id"] for f in frames[:-1]] == [third.id]


@override_settings(WINKR_REALTIME={"NOTIFICATION_STREAM_MAXLEN": 5})
def test_notification_cursor_older_than_the_cap_says_resync(users):
    bob = users["bob"]
    first = publish_notification(bob.pk, "like", "first")
    for i in range(230):
        publish_notification(bob.pk, "like", str(i))
    body = logged_in(bob).get(f"/api/notifications/?since={first.id}&limit=100").json()
    assert body["resync_required"] is True
    kept = get_redis("state").xlen(notifications_key(bob.pk))
    assert 5 <= kept < 231 and len(body["notifications"]) == kept
    assert body["notifications"][-1]["title"] == "229"


async def test_pubsub_service_subscriptions(users):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    service = PubSubService()
    bob_messages = service.subscribe_to_chat_messages(bob.pk)
    carol_messages = service.subscribe_to_chat_messages(carol.pk)
    bob_notes = service.subscribe_to_notifications(bob.pk)
    async with contextlib.aclosing(bob_messages), contextlib.aclosing(bob_notes), contextlib.aclosing(carol_messages):
        first = asyncio.ensure_future(anext(bob_messages))
        first_note = asyncio.ensure_future(anext(bob_notes))
        carol_next = asyncio.ensure_future(anext(carol_messages))
        await asyncio.sleep(0.2)  # the subscriptions join their groups
        sent = await service.publish_chat_message(alice.pk, bob.pk, "hello via service")
        note = await service.publish_notification(bob.pk, "match", "New match!", {"user_id": alice.pk})
        assert await asyncio.wait_for(first, 2) == sent.as_frame()
        assert await asyncio.wait_for(first_note, 2) == note.as_frame()
        await asyncio.sleep(0.2)
        assert not carol_next.done()
        carol_next.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await carol_next


async def test_long_user_ids_get_their_own_notification_groups(redis_server):
    """Group names of ids that are not short and plain are digests of the whole id, not a cut-off prefix.

    With the first 40 bytes hex-encoded, two ids sharing that prefix (long string keys, non-ASCII names)
    shared one group, and notification sockets have no per-user check after the group: a leak.
    """
    first, second = "u" * 70 + "1", "u" * 70 + "2"
    service = PubSubService()
    second_notes = service.subscribe_to_notifications(second)
    async with contextlib.aclosing(second_notes):
        pending = asyncio.ensure_future(anext(second_notes))
        await asyncio.sleep(0.2)  # the subscription joins its group
        await apublish_notification(first, "match", "for the first user only")
        await asyncio.sleep(0.3)
        leaked = pending.done()
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending
    assert not leaked, "a notification for one user reached another user's subscription"
