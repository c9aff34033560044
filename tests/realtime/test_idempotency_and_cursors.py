"""Resends with the same client_id store one message; replay cursors that tell conversations apart;
the remembered recipient check (no database per frame) and how it forgets."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings

from caching_app.foundation.connections import get_redis
from caching_app.foundation.twins import run
from realtime_app import chat
from realtime_app.keys import conversation_key, conversation_tag, partners_key
from realtime_app.recipients import RecentPairs, allowed_recipients

from . import policies
from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def stored_texts(user_a, user_b) -> list[str]:
    return [f[b"text"].decode() for _, f in get_redis("state").xrange(conversation_key(user_a.pk, user_b.pk))]


# --- idempotent send -----------------------------------------------------------------------------------------

async def test_socket_resend_with_same_client_id_stores_and_delivers_once(users, connect):
    alice, bob = users["alice"], users["bob"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    frame = {"type": "chat.message", "to": bob.pk, "text": "are you there?", "client_id": "phone-17"}
    await alice_socket.send_json_to(frame)
    first = await alice_socket.receive_json_from(timeout=2)
    delivered = await bob_socket.receive_json_from(timeout=2)
    assert first["type"] == "chat.ack" and "duplicate" not in first and delivered["id"] == first["id"]

    # The ack was lost; the phone reconnects and resends the same frame (twice, for good measure).
    resent_socket = await connect(alice)
    for _ in range(2):
        await resent_socket.send_json_to(frame)
        again = await resent_socket.receive_json_from(timeout=2)
        assert again == {**first, "duplicate": True}
    assert await bob_socket.receive_nothing(timeout=0.2)  # no second delivery
    assert stored_texts(alice, bob) == ["are you there?"]

    # The same client_id is free in another conversation, and a new client_id is a new message.
    await alice_socket.send_json_to({**frame, "to": users["carol"].pk})
    assert "duplicate" not in await alice_socket.receive_json_from(timeout=2)
    await alice_socket.send_json_to({**frame, "client_id": "phone-18"})
    assert (await alice_socket.receive_json_from(timeout=2))["id"] != first["id"]
    assert stored_texts(alice, bob) == ["are you there?", "are you there?"]


async def test_concurrent_resends_race_to_one_message(users):
    alice, bob = users["alice"], users["bob"]
    sent = await asyncio.gather(*(chat.asend_message(alice, bob.pk, "once", client_id="race") for _ in range(10)))
    assert len({m.id for m in sent}) == 1
    assert sorted(m.duplicate for m in sent) == [False] + [True] * 9
    assert stored_texts(alice, bob) == ["once"]


async def test_a_resend_delivers_what_a_failed_first_attempt_stored_but_never_published(users, connect,
                                                                                         publish_after_store):
    alice, bob = users["alice"], users["bob"]
    bob_socket = await connect(bob)
    # The first attempt's append ran (the message is stored) and the attempt failed before its publish: its
    # reply was lost, or redis-py retried the append and the retry found the client_id taken.
    await sync_to_async(run)(first_attempt_store(alice, bob, "are you there?", "phone-17"), get_redis("state"))
    resent_socket = await connect(alice)
    await resent_socket.send_json_to({"type": "chat.message", "to": bob.pk, "text": "are you there?",
                                      "client_id": "phone-17"})
    ack = await resent_socket.receive_json_from(timeout=2)
    assert ack["type"] == "chat.ack" and ack["duplicate"] is True
    delivered = await bob_socket.receive_json_from(timeout=2)
    assert (delivered["type"], delivered["id"], delivered["text"]) == ("chat.message", ack["id"], "are you there?")
    assert stored_texts(alice, bob) == ["are you there?"]


async def test_a_resend_published_again_shows_on_no_socket_twice(users, connect, publish_after_store):
    alice, bob = users["alice"], users["bob"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    frame = {"type": "chat.message", "to": bob.pk, "text": "hello", "client_id": "web-1"}
    await alice_socket.send_json_to(frame)
    first = await alice_socket.receive_json_from(timeout=2)
    assert (await bob_socket.receive_json_from(timeout=2))["id"] == first["id"]
    resent_socket = await connect(alice)  # the ack was lost; the client reconnects and resends
    await resent_socket.send_json_to(frame)
    assert await resent_socket.receive_json_from(timeout=2) == {**first, "duplicate": True}
    # Published again (before the ack), and skipped by the recipient's socket and the sender's first one,
    # which sent it: the next frame either gets is a new message published after it on the same channels.
    marker = await send_new(resent_socket, bob, "marker-1")
    assert (await bob_socket.receive_json_from(timeout=2))["id"] == marker["id"]
    assert (await alice_socket.receive_json_from(timeout=2))["id"] == marker["id"]
    # A socket of bob's opened after the first delivery never saw it: the second publish reaches it.
    late_socket = await connect(bob)
    await resent_socket.send_json_to(frame)
    assert (await resent_socket.receive_json_from(timeout=2))["duplicate"] is True
    assert (await late_socket.receive_json_from(timeout=2))["id"] == first["id"]
    marker = await send_new(resent_socket, bob, "marker-2")
    assert (await bob_socket.receive_json_from(timeout=2))["id"] == marker["id"]


async def send_new(socket, recipient, client_id: str) -> dict:
    """Send a new message and return its ack."""
    await socket.send_json_to({"type": "chat.message", "to": recipient.pk, "text": client_id, "client_id": client_id})
    ack = await socket.receive_json_from(timeout=2)
    assert ack["type"] == "chat.ack" and "duplicate" not in ack
    return ack


def first_attempt_store(sender, recipient, text: str, client_id: str):
    """The append step of a send, alone: what a first attempt stored before it failed."""
    return (yield chat._append(str(sender.pk), str(recipient.pk), text, client_id))


def test_rest_resend_returns_the_original_with_200(users):
    alice, bob = users["alice"], users["bob"]
    client = Client()
    client.force_login(alice)
    url = f"/api/chat/{bob.pk}/messages/"
    created = client.post(url, {"text": "hello", "client_id": "web-1"}, content_type="application/json")
    resent = client.post(url, {"text": "hello", "client_id": "web-1"}, content_type="application/json")
    assert (created.status_code, resent.status_code) == (201, 200)
    assert resent.json() == created.json()
    assert stored_texts(alice, bob) == ["hello"]
    # Bob using the same client_id is his own message, not a duplicate of alice's.
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob_client.post(f"/api/chat/{alice.pk}/messages/", {"text": "hi", "client_id": "web-1"},
                           content_type="application/json").status_code == 201
    bad = client.post(url, {"text": "x", "client_id": ""}, content_type="application/json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_client_id")
    # Without a client_id every POST is a new message.
    assert client.post(url, {"text": "hello"}, content_type="application/json").status_code == 201
    assert client.post(url, {"text": "hello"}, content_type="application/json").status_code == 201
    assert stored_texts(alice, bob) == ["hello", "hi", "hello", "hello"]


@override_settings(WINKR_REALTIME={"CLIENT_ID_TTL": 1})
def test_client_id_is_remembered_for_client_id_ttl_seconds(users):
    alice, bob = users["alice"], users["bob"]
    chat.send_message(alice, bob.pk, "one", client_id="k")
    ttl = get_redis("state").pttl(get_redis("state").keys("*client-id*")[0])
    assert 0 < ttl <= 1000
    assert chat.send_message(alice, bob.pk, "one", client_id="k").duplicate


# --- replay cursors across conversations ---------------------------------------------------------------------

def add_entry(user_a, user_b, entry_id: str, text: str) -> None:
    """A message with a chosen stream id: two conversations holding the same id, as in one millisecond."""
    get_redis("state").xadd(conversation_key(user_a.pk, user_b.pk),
                            {"from": str(user_a.pk), "to": str(user_b.pk), "text": text}, id=entry_id)
    get_redis("state").zadd(partners_key(user_b.pk), {str(user_a.pk): int(entry_id.split("-")[0])})


async def test_cursor_tells_apart_conversations_with_the_same_stream_id(users, connect):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    now = await sync_to_async(get_redis("state").time)()
    ms = now[0] * 1000 + now[1] // 1000
    add_entry(alice, bob, f"{ms}-0", "from alice")
    add_entry(carol, bob, f"{ms}-0", "from carol")
    add_entry(carol, bob, f"{ms}-1", "carol again")
    bob_socket = await connect(bob)
    await bob_socket.send_json_to({"type": "chat.sync", "since": f"{ms - 1}"})
    everything = (await receive_until(bob_socket, "chat.synced"))[:-1]
    order = sorted([conversation_tag(alice.pk, bob.pk), conversation_tag(carol.pk, bob.pk)])
    assert [f["cursor"] for f in everything] == [f"{ms}-0@{order[0]}", f"{ms}-0@{order[1]}", f"{ms}-1@{order[1]}"]

    # The client saw only the first of the two messages with id <ms>-0, then lost the connection.
    for seen, rest in ((0, 2), (1, 1), (2, 0)):
        back = await connect(bob, f"/ws/chat/?since={everything[seen]['cursor']}")
        frames = await receive_until(back, "chat.synced")
        assert frames[:-1] == everything[seen + 1:] and len(frames) - 1 == rest
        assert frames[-1]["cursor"] == everything[-1]["cursor"]
    # A bare id keeps its old meaning (after that id in every conversation): the ambiguity the cursor fixes.
    bare = await connect(bob, f"/ws/chat/?since={ms}-0")
    assert [f["text"] for f in (await receive_until(bare, "chat.synced"))[:-1]] == ["carol again"]
    for bad in ("1-0@", "x@1-2", "1-0" + "@" * 400):
        await bob_socket.send_json_to({"type": "chat.sync", "since": bad})
        assert (await bob_socket.receive_json_from(timeout=2))["code"] == "invalid_since"


async def test_live_frames_and_acks_carry_the_cursor(users, connect):
    alice, bob = users["alice"], users["bob"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    await alice_socket.send_json_to({"type": "chat.message", "to": bob.pk, "text": "hi", "client_id": "a"})
    ack = await alice_socket.receive_json_from(timeout=2)
    live = await bob_socket.receive_json_from(timeout=2)
    assert ack["cursor"] == live["cursor"] == f"{ack['id']}@{conversation_tag(alice.pk, bob.pk)}"


# --- the remembered recipient check -------------------------------------------------------------------------

@override_settings(WINKR_REALTIME={"SEND_POLICY": "tests.realtime.policies.counting_allow"})
async def test_a_conversation_asks_the_database_and_policy_once(users, connect):
    alice, bob = users["alice"], users["bob"]
    policies.LOOKUPS.clear()
    alice_socket = await connect(alice)
    for i in range(4):
        await alice_socket.send_json_to({"type": "chat.message", "to": bob.pk, "text": "m", "client_id": str(i)})
        assert (await alice_socket.receive_json_from(timeout=2))["type"] == "chat.ack"
    assert policies.LOOKUPS == [("alice", "bob")]
    # The other direction, and a refusal, are not covered by that answer.
    bob_socket = await connect(bob)
    await bob_socket.send_json_to({"type": "chat.message", "to": alice.pk, "text": "m", "client_id": "b"})
    assert (await bob_socket.receive_json_from(timeout=2))["type"] == "chat.ack"
    assert policies.LOOKUPS == [("alice", "bob"), ("bob", "alice")]


@override_settings(WINKR_REALTIME={"SEND_POLICY": "tests.realtime.policies.counting_allow", "RECIPIENT_CACHE_TTL": 0})
async def test_recipient_cache_ttl_zero_asks_every_time(users, connect):
    alice, bob = users["alice"], users["bob"]
    policies.LOOKUPS.clear()
    alice_socket = await connect(alice)
    for i in range(3):
        await alice_socket.send_json_to({"type": "chat.message", "to": bob.pk, "text": "m", "client_id": str(i)})
        assert (await alice_socket.receive_json_from(timeout=2))["type"] == "chat.ack"
    assert len(policies.LOOKUPS) == 3


async def test_deactivating_the_recipient_is_seen_at_once_in_this_process(users, connect):
    alice, bob = users["alice"], users["bob"]
    alice_socket = await connect(alice)
    await alice_socket.send_json_to({"type": "chat.message", "to": bob.pk, "text": "one", "client_id": "1"})
    assert (await alice_socket.receive_json_from(timeout=2))["type"] == "chat.ack"
    bob.is_active = False
    await sync_to_async(bob.save)()
    await alice_socket.send_json_to({"type": "chat.message", "to": bob.pk, "text": "two", "client_id": "2"})
    assert (await alice_socket.receive_json_from(timeout=2))["code"] == "recipient_not_found"


def test_allowed_recipients_expire_forget_and_stay_bounded():
    now = [100.0]
    cache = RecentPairs(max_entries=3, clock=lambda: now[0])
    cache.remember("policy", "1", "2", ttl=5)
    assert cache.contains("policy", "1", "2") and not cache.contains("policy", "2", "1")
    assert not cache.contains("other policy", "1", "2")
    now[0] += 5
    assert not cache.contains("policy", "1", "2")
    cache.remember("policy", "1", "2", ttl=5)
    cache.remember("policy", "3", "1", ttl=5)
    cache.remember("policy", "3", "4", ttl=5)
    cache.forget_user(1)
    assert not cache.contains("policy", "1", "2") and not cache.contains("policy", "3", "1")
    assert cache.contains("policy", "3", "4")
    cache.remember("policy", "5", "6", ttl=0)
    assert not cache.contains("policy", "5", "6")
    for i in range(10):
        cache.remember("policy", "7", str(i), ttl=5)
    assert len(cache._entries) <= 3 and cache.contains("policy", "7", "9")
    assert allowed_recipients is not cache


async def test_a_lost_conversation_is_indexed_again_at_once(users, connect):
    """The partner index is written once a minute per pair; a Stream that Redis lost is re-indexed at once."""
    alice, bob = users["alice"], users["bob"]
    await chat.asend_message(alice, bob.pk, "one", client_id="1")
    await sync_to_async(get_redis("state").flushdb)()  # a restart without persistence
    sent = await chat.asend_message(alice, bob.pk, "two", client_id="2")
    bob_socket = await connect(bob, "/ws/chat/?since=0-0")
    assert [f["id"] for f in (await receive_until(bob_socket, "chat.synced"))[:-1]] == [sent.id]
