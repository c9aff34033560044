"""Live delivery through the channel layer, after the message is stored: best effort, by design.

A chat message or notification is in its Redis Stream before it is published; a client that misses the
live copy gets it from the Stream on its next ``since=`` sync. So a channel-layer failure here (Redis
restarted under a pooled pub/sub connection, the layer's node gone) must not turn a stored message into a
503: the client would retry and store it twice. It is logged and counted instead.

One event to several groups (a chat message to the recipient's and the sender's sockets) is published
once: serialized once and, on our layers (``group_send_many``), sent in one round trip per Redis node; on one
server, chat's send script publishes it itself (``script_publish``), in the round trip that stores it.
channels_redis' pub/sub shard publishes under a lock, so two concurrent ``group_send`` calls would
still be two round trips one after the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from .metrics import DELIVERY_FAILURES

logger = logging.getLogger(__name__)


async def _publish(layer: Any, groups: Sequence[str], event: dict[str, Any]) -> None:
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        await send_many(groups, event)
    elif len(groups) == 1:
        await layer.group_send(groups[0], event)
    else:  # a layer without the extension (channels_redis' RedisChannelLayer, the in-memory layer)
        results = await asyncio.gather(*(layer.group_send(group, event) for group in groups), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


@dataclass(frozen=True)
class ScriptPublish:
    """How a Lua script publishes one event itself (``lua/send_message.lua``): the groups' pub/sub
    channels in order, and whether the last (the sender's own group) may be skipped when Redis counts no
    subscriber but this process, whose only socket in it is the sending one (it has its ack). A device of
    the sender's that joins in between the check and the script misses that one live copy, as a socket that
    joins just after a publish always can: live delivery is at-most-once, its next sync has the message."""

    channels: list[str]
    skip_last_if_alone: bool


def script_publish(alias: str, groups: Sequence[str], exclude_channel: str | None) -> ScriptPublish | None:
    """The plan for a script on ``alias`` to publish to ``groups`` on the default layer; None when that
    layer cannot be published to from there (another server, several shards, another serializer or layer)."""
    layer = get_channel_layer()
    if layer is None or not getattr(layer, "script_publishes_on", None) or not layer.script_publishes_on(alias):
        return None
    skip = exclude_channel is not None and layer.only_local_member(groups[-1], exclude_channel)
    return ScriptPublish([layer.group_channel(group) for group in groups], skip)


async def adeliver(groups: Sequence[str], event: dict[str, Any], what: str) -> None:
    """``group_send`` ``event`` to ``groups``; a layer failure is logged and counted, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await _publish(layer, groups, event)
    except (RedisError, OSError) as exc:
        DELIVERY_FAILURES.labels(what).inc()
        logger.warning("Live delivery of a stored %s to %s failed (replayed on next sync): %r", what,
                       ", ".join(groups), exc)


def deliver(groups: Sequence[str], event: dict[str, Any], what: str) -> None:
    """Sync twin of :func:`adeliver` (REST views, signals)."""
    async_to_sync(adeliver)(groups, event, what)
