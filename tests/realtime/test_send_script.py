"""The chat send in one script on one Redis server, and the per-slot path on a Cluster: same limit, same store.

On standalone the rate limit, the append (with its client_id idempotency) and the partner index are one
EVALSHA (realtime_app.send_script); on a Cluster they stay one step per slot. Either way a refused sender
stores nothing, a resend is the original, and the limit is the limiter's own key, counted by REST and
socket alike.
"""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from channels.layers import get_channel_layer
from django.test import override_settings

from caching_app.foundation.connections import get_redis
from caching_app.foundation.twins import Eval
from ratelimit_app.limiter import get_rate_limit_status
from realtime_app import chat
from realtime_app.errors import RateLimited
from realtime_app.keys import chat_group, conversation_key, partners_key
from realtime_app.limits import chat_rate_config
from realtime_app.send_script import SEND_SCRIPTS, single_server

pytestmark = pytest.mark.django_db(transaction=True)
LIMIT_2 = override_settings(WINKR_REALTIME={"CHAT_RATE_LIMIT": {"requests": 2, "window": 60}})


def publishes(redis) -> int:
    """PUBLISH commands the server ran so far, from scripts included."""
    return int(redis.info("commandstats").get("cmdstat_publish", {}).get("calls", 0))


def stored(redis, a, b) -> list[str]:
    return [f[b"text"].decode() for _, f in redis.xrange(conversation_key(a.pk, b.pk))]


class CountingSteps:
    """Wraps the twin driver's client source to count the round trips the send made (EVALSHA and others)."""

    def __init__(self, monkeypatch):
        self.steps: list[str] = []
        original = chat.run

        def counted(op, client):
            def counting():
                try:
                    step = next(op)
                    while True:
                        self.steps.append(step.name if isinstance(step, Eval) else type(step).__name__)
                        try:
                            reply = yield step
                        except Exception as exc:  # noqa: BLE001 - handed back to the op as the driver does
                            step = op.throw(exc)
                        else:
                            step = op.send(reply)
                except StopIteration as stop:
                    return stop.value
            return original(counting(), client)

        monkeypatch.setattr(chat, "run", counted)


def test_one_server_sends_in_one_script_which_embeds_the_limiters_own_lua(users, monkeypatch):
    from ratelimit_app.scripts import lua_source

    alice, bob = users["alice"], users["bob"]
    assert single_server()
    counter = CountingSteps(monkeypatch)
    chat.send_message(alice, bob.pk, "hi", client_id="c1")
    assert counter.steps == ["Twin", "sliding_log"]  # the recipient lookup, the script (which publishes too)
    counter.steps.clear()
    chat.send_message(alice, bob.pk, "again", client_id="c2")
    assert counter.steps == ["sliding_log"]  # the recipient is remembered
    assert lua_source("sliding_log") in SEND_SCRIPTS.source("sliding_log")
    redis = get_redis("state")
    assert redis.zscore(partners_key(alice.pk), str(bob.pk)) and redis.zscore(partners_key(bob.pk), str(alice.pk))


@LIMIT_2
async def test_a_refused_sender_stores_nothing_and_the_socket_and_rest_count_together(users):
    alice, bob = users["alice"], users["bob"]
    await chat.asend_message(alice, bob.pk, "one")
    from asgiref.sync import sync_to_async

    await sync_to_async(chat.send_message)(alice, bob.pk, "two")  # REST: the same limit
    with pytest.raises(RateLimited) as refused:
        await chat.asend_message(alice, bob.pk, "three", client_id="x")
    assert 0 < refused.value.retry_after <= 60
    redis = get_redis("state")
    assert stored(redis, alice, bob) == ["one", "two"]
    assert redis.get(chat.client_id_key(alice.pk, bob.pk, "x")) is None
    # The limiter's own key holds the count: a REST-side status read sees both messages.
    assert get_rate_limit_status(chat_rate_config(), str(alice.pk)).remaining == 0


@override_settings(WINKR_REALTIME={"CHAT_RATE_LIMIT": {"requests": 1, "window": 60}})
def test_a_refused_first_message_leaves_the_partner_index_due(users):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    chat.send_message(alice, bob.pk, "one")
    with pytest.raises(RateLimited):
        chat.send_message(alice, carol.pk, "two")
    redis = get_redis("state")
    assert redis.zscore(partners_key(carol.pk), str(alice.pk)) is None
    assert not chat.indexed_partners.contains(None, str(alice.pk), str(carol.pk))


async def test_a_resend_in_one_script_is_the_original(users):
    alice, bob = users["alice"], users["bob"]
    first = await chat.asend_message(alice, bob.pk, "hello", client_id="same")
    again = await chat.asend_message(alice, bob.pk, "changed", client_id="same")
    assert again.duplicate and again.id == first.id and again.text == "hello"
    assert stored(get_redis("state"), alice, bob) == ["hello"]


def test_a_cluster_keeps_one_step_per_slot(users, redis_cluster, use_redis, monkeypatch):
    redis_cluster.flush()
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    alice, bob = users["alice"], users["bob"]
    assert not single_server()
    counter = CountingSteps(monkeypatch)
    with LIMIT_2:
        first = chat.send_message(alice, bob.pk, "one", client_id="a")
        # The recipient lookup, the limit (sender's slot), the append and the index together, the publish.
        assert counter.steps == ["Twin", "Twin", "Together", "Twin"]
        assert chat.send_message(alice, bob.pk, "again", client_id="a").id == first.id
        with pytest.raises(RateLimited):
            chat.send_message(alice, bob.pk, "three")
    redis = get_redis("state")
    assert stored(redis, alice, bob) == ["one"]
    assert redis.zscore(partners_key(bob.pk), str(alice.pk))


def test_sentinel_is_one_server_and_sends_in_one_script(users, redis_sentinel, use_redis, monkeypatch):
    use_redis(MODE="sentinel", SENTINELS=redis_sentinel.sentinel_addresses, SENTINEL_SERVICE=redis_sentinel.service)
    alice, bob = users["alice"], users["bob"]
    assert single_server()
    counter = CountingSteps(monkeypatch)
    with LIMIT_2:
        chat.send_message(alice, bob.pk, "one", client_id="a")
        assert counter.steps == ["Twin", "sliding_log"]
        assert chat.send_message(alice, bob.pk, "again", client_id="a").duplicate
        with pytest.raises(RateLimited):
            chat.send_message(alice, bob.pk, "three")
    assert stored(get_redis("state"), alice, bob) == ["one"]


def test_a_separate_rate_limit_alias_keeps_the_limit_on_its_own_server(users, publish_after_store, monkeypatch):
    alice, bob = users["alice"], users["bob"]
    counter = CountingSteps(monkeypatch)
    chat.send_message(alice, bob.pk, "one")
    assert counter.steps == ["Twin", "Twin", "Together", "Twin"]


async def test_the_script_publishes_the_layers_own_event_to_both_users_sockets(users):
    alice, bob = users["alice"], users["bob"]
    layer = get_channel_layer()
    sending, other_device, recipient = [await layer.new_channel() for _ in range(3)]
    await layer.group_add(chat_group(alice.pk), sending)
    await layer.group_add(chat_group(alice.pk), other_device)
    await layer.group_add(chat_group(bob.pk), recipient)
    redis = get_redis("state")
    before = publishes(redis)
    message = await chat.asend_message(alice, bob.pk, "hé ✓", client_id="c1", exclude_channel=sending)
    event = {"type": "chat.deliver", "exclude": sending,
             "message": {"id": message.id, "from": str(alice.pk), "to": str(bob.pk), "text": "hé ✓"}}
    assert await asyncio.wait_for(layer.receive(recipient), 3) == event
    assert await asyncio.wait_for(layer.receive(other_device), 3) == event  # the sender's other device
    assert publishes(redis) - before == 2
    # A resend publishes nothing.
    assert (await chat.asend_message(alice, bob.pk, "hé ✓", client_id="c1", exclude_channel=sending)).duplicate
    assert publishes(redis) - before == 2


async def test_the_senders_group_is_skipped_only_when_the_sending_socket_is_all_it_reaches(users):
    alice, bob = users["alice"], users["bob"]
    layer = get_channel_layer()
    sending, recipient = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(chat_group(alice.pk), sending)
    await layer.group_add(chat_group(bob.pk), recipient)
    redis = get_redis("state")
    before = publishes(redis)
    await chat.asend_message(alice, bob.pk, "one", exclude_channel=sending)
    assert (await asyncio.wait_for(layer.receive(recipient), 3))["message"]["text"] == "one"
    assert publishes(redis) - before == 1  # only the sending socket is in alice's group: it has its ack
    # Another process holding a socket of alice's (here: another subscriber of the group's channel).
    other_process = redis.pubsub(ignore_subscribe_messages=True)
    other_process.subscribe(layer.group_channel(chat_group(alice.pk)))
    try:
        await chat.asend_message(alice, bob.pk, "two", exclude_channel=sending)
        assert publishes(redis) - before == 3
        delivered = None
        for _ in range(30):
            delivered = other_process.get_message(timeout=0.1) or delivered
            if delivered:
                break
        assert delivered is not None
        assert msgpack.unpackb(delivered["data"])["message"]["text"] == "two"
    finally:
        other_process.close()


def test_a_layer_on_other_hosts_is_published_to_by_python(users, settings, monkeypatch):
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "hosts": [settings.WINKR_REDIS["state"]["URL"]]}
    settings.CHANNEL_LAYERS = layers  # explicit hosts: the layer may not be where the script runs
    alice, bob = users["alice"], users["bob"]
    counter = CountingSteps(monkeypatch)
    chat.send_message(alice, bob.pk, "one")
    assert counter.steps == ["Twin", "sliding_log", "Twin"]  # the recipient lookup, the script, the publish
