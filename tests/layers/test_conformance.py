"""One behaviour, three layers: channels_redis' pub/sub layer, our subclass of it, and the Cluster layer.

Each test runs against every layer (``kind`` fixture), so ours is held to channels_redis' semantics:
delivery to a channel, groups, flush, another process, several event loops.
"""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys
import threading

import pytest
from channels.layers import BaseChannelLayer

from tests.layers.kinds import build_layer

WAIT = 5.0


async def receive(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), WAIT)


async def nothing_arrives(layer, channel: str, marker_from=None) -> None:
    """Nothing is queued for ``channel`` ahead of a marker sent now (no sleeping: the marker is the deadline)."""
    await (marker_from or layer).send(channel, {"type": "marker"})
    assert (await receive(layer, channel))["type"] == "marker"


async def test_send_reaches_the_channel_with_its_content(layer):
    channel = await layer.new_channel()
    message = {"type": "chat.deliver", "text": "hé ✓", "n": 1, "items": [1, 2], "raw": b"\x00\xff"}
    await layer.send(channel, message)
    assert await receive(layer, channel) == message


async def test_messages_to_one_channel_arrive_in_order(layer):
    channel = await layer.new_channel()
    for n in range(50):
        await layer.send(channel, {"type": "seq", "n": n})
    assert [(await receive(layer, channel))["n"] for _ in range(50)] == list(range(50))


async def test_new_channels_are_distinct_and_valid(layer):
    names = {await layer.new_channel() for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert BaseChannelLayer().require_valid_channel_name(name)


async def test_group_send_reaches_every_member_once(layer):
    members = [await layer.new_channel() for _ in range(3)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("conformance.room", channel)
    await layer.group_add("conformance.room", members[0])  # joining twice still delivers once
    await layer.group_send("conformance.room", {"type": "hello"})
    for channel in members:
        assert await receive(layer, channel) == {"type": "hello"}
        await nothing_arrives(layer, channel)
    await nothing_arrives(layer, outsider)


async def test_group_discard_stops_delivery_to_that_member_only(layer):
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second):
        await layer.group_add("conformance.room", channel)
    await layer.group_discard("conformance.room", first)
    await layer.group_discard("conformance.room", first)  # not a member any more: no error
    await layer.group_discard("conformance.other", first)
    await layer.group_send("conformance.room", {"type": "after"})
    assert await receive(layer, second) == {"type": "after"}
    await nothing_arrives(layer, first)


async def test_group_send_to_an_empty_group_is_fine(layer):
    await layer.group_send("conformance.nobody", {"type": "void"})


async def test_groups_are_separate(layer):
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("conformance.a", a)
    await layer.group_add("conformance.b", b)
    await layer.group_send("conformance.a", {"type": "for.a"})
    assert await receive(layer, a) == {"type": "for.a"}
    await nothing_arrives(layer, b)


async def test_invalid_names_are_refused(layer, kind):
    if kind != "cluster":
        pytest.skip("channels_redis' pub/sub layer does not validate names (ours does, as BaseChannelLayer asks)")
    channel = await layer.new_channel()
    with pytest.raises(TypeError):
        await layer.group_add("bad group name!" * 10, channel)
    with pytest.raises(TypeError):
        await layer.send("bad channel ✗", {"type": "x"})


async def test_group_add_takes_local_channels_only(layer):
    with pytest.raises(RuntimeError):
        await layer.group_add("conformance.room", "conformance.specific.not-ours")


async def test_flush_forgets_groups_and_the_layer_keeps_working(layer):
    channel = await layer.new_channel()
    await layer.group_add("conformance.room", channel)
    await layer.flush()
    fresh = await layer.new_channel()
    await layer.group_add("conformance.fresh", fresh)
    await layer.group_send("conformance.room", {"type": "old group"})
    await layer.group_send("conformance.fresh", {"type": "new group"})
    assert await receive(layer, fresh) == {"type": "new group"}
    await nothing_arrives(layer, fresh)


async def test_a_cancelled_receive_leaves_the_layer_usable(layer):
    channel = await layer.new_channel()
    waiter = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    again = await layer.new_channel()
    await layer.send(again, {"type": "still here"})
    assert await receive(layer, again) == {"type": "still here"}


async def test_another_process_on_the_same_layer(layer, kind, redis_json):
    peer = subprocess.Popen([sys.executable, "-m", "tests.layers.peer", kind, redis_json],  # noqa: ASYNC220
                            stdout=subprocess.PIPE, text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(peer.stdout.readline), 30)
        assert line.startswith("ready "), line
        peer_channel = line.split()[1]
        mine = await layer.new_channel()
        for n in range(3):
            await layer.group_send("conformance.peer", {"type": "ping", "n": n, "reply_to": mine})
        replies = [await receive(layer, mine) for _ in range(3)]
        assert [reply["n"] for reply in replies] == [0, 1, 2]
        assert {reply["pid"] for reply in replies} == {peer.pid}
        await layer.send(peer_channel, {"type": "stop"})
        assert await asyncio.to_thread(peer.wait, 30) == 0
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()


def test_one_layer_object_serves_several_event_loops(kind):
    """Daphne runs one loop, but async_to_sync threads bring their own: each gets working connections."""
    layer = build_layer(kind)
    names: queue.Queue = queue.Queue()
    received: list[dict] = []

    async def receiver():
        channel = await layer.new_channel()
        await layer.group_add("conformance.loops", channel)
        names.put(channel)
        received.append(await receive(layer, channel))
        received.append(await receive(layer, channel))
        await layer.flush()

    async def sender(channel: str):
        await layer.send(channel, {"type": "direct"})
        await layer.group_send("conformance.loops", {"type": "group"})
        await layer.flush()

    thread = threading.Thread(target=asyncio.run, args=(receiver(),))
    thread.start()
    try:
        channel = names.get(timeout=WAIT * 2)
        asyncio.run(sender(channel))
    finally:
        thread.join(WAIT * 3)
    assert not thread.is_alive()
    assert received == [{"type": "direct"}, {"type": "group"}]


async def test_leaving_and_joining_again_at_once_keeps_the_membership(layer):
    channel = await layer.new_channel()
    for _ in range(5):
        await layer.group_add("conformance.flap", channel)
        await layer.group_discard("conformance.flap", channel)
    await layer.group_add("conformance.flap", channel)
    await layer.group_send("conformance.flap", {"type": "still in"})
    assert await receive(layer, channel) == {"type": "still in"}
    await nothing_arrives(layer, channel)


async def test_group_send_many_reaches_each_groups_members_once(layer):
    """Our extension (realtime_app.delivery): one event to several groups, published once."""
    if not hasattr(layer, "group_send_many"):
        pytest.skip("channels_redis' own layer has no group_send_many (delivery falls back to group_send)")
    recipient, sender_device, both, outsider = [await layer.new_channel() for _ in range(4)]
    await layer.group_add("conformance.recipient", recipient)
    await layer.group_add("conformance.sender", sender_device)
    for group in ("conformance.recipient", "conformance.sender"):
        await layer.group_add(group, both)
    await layer.group_send_many(["conformance.recipient", "conformance.sender"], {"type": "chat.deliver", "n": 1})
    for channel in (recipient, sender_device):
        assert await receive(layer, channel) == {"type": "chat.deliver", "n": 1}
        await nothing_arrives(layer, channel)
    # A channel in both groups gets one copy per group, as with two group_send calls.
    assert [await receive(layer, both) for _ in range(2)] == [{"type": "chat.deliver", "n": 1}] * 2
    await nothing_arrives(layer, both)
    await nothing_arrives(layer, outsider)
