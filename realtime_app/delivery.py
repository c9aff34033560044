"""Live delivery through the channel layer, after the message is stored: best effort, by design.

A chat message or notification is in its Redis Stream before it is published; a client that misses the
live copy gets it from the Stream on its next ``since=`` sync. So a channel-layer failure here (Redis
restarted under a pooled pub/sub connection, the layer's node gone) must not turn a stored message into a
503: the client would retry and store it twice. It is logged and counted instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from .metrics import DELIVERY_FAILURES

logger = logging.getLogger(__name__)


async def _send(layer: Any, group: str, event: dict[str, Any], what: str) -> None:
    try:
        await layer.group_send(group, event)
    except (RedisError, OSError) as exc:
        DELIVERY_FAILURES.labels(what).inc()
        logger.warning("Live delivery of a stored %s to %s failed (replayed on next sync): %r", what, group, exc)


async def adeliver(events: Iterable[tuple[str, dict[str, Any]]], what: str) -> None:
    """``group_send`` the (group, event) pairs concurrently; a layer failure is logged and counted, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.gather(*(_send(layer, group, event, what) for group, event in events))


def deliver(events: Iterable[tuple[str, dict[str, Any]]], what: str) -> None:
    """Sync twin of :func:`adeliver` (REST views, signals)."""
    async_to_sync(adeliver)(list(events), what)
