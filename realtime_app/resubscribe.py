"""The layer-to-consumer hook for "your subscription was re-established: you may have missed messages".

Pub/sub is at-most-once: while a layer's subscription is down (Redis restarted, a Sentinel or Cluster
failover, a network blip) whatever is published is lost, and channels_redis reconnects silently (its
issue 256). Our layers tell every channel that asked (:meth:`ResubscribeNotices.add_resubscribe_listener`)
by putting a ``{"type": "layer.resubscribed"}`` event in its queue once the subscription is back, so a
consumer can replay from the Streams what it missed (realtime_app.resume). Only channels that asked get
the event: a consumer without a ``layer_resubscribed`` handler would fail on it.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Awaitable, Callable
from typing import Any

from .metrics import LAYER_RESUBSCRIBES

logger = logging.getLogger(__name__)

RESUBSCRIBED_EVENT = {"type": "layer.resubscribed"}


def watch_reconnects(pubsub: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` after redis-py's PubSub reconnected and replayed its subscriptions.

    redis-py registers ``pubsub.on_connect`` on the connection when the PubSub first connects and
    calls it on every *re*connect (the first connect does not call it), which is exactly the moment
    the subscriptions come back. Wrapping the bound method before the first command is enough.
    """
    original: Callable[[Any], Awaitable[None]] = pubsub.on_connect

    async def on_connect(self: Any, connection: Any) -> None:
        await original(connection)
        callback()

    # A bound method: redis-py keeps connect callbacks as weakref.WeakMethod.
    pubsub.on_connect = types.MethodType(on_connect, pubsub)


class ResubscribeNotices:
    """Mixin for a per-loop layer holding ``self.channels`` (name -> asyncio.Queue of serialized events)."""

    channels: dict[str, Any]
    resubscribe_listeners: set[str]

    def serialize(self, message: dict) -> bytes:  # provided by the layer
        raise NotImplementedError

    def add_resubscribe_listener(self, channel: str) -> None:
        """Ask for a ``layer.resubscribed`` event on ``channel`` (a channel of this process) after each
        re-established subscription; forgotten with the channel."""
        if channel not in self.channels:
            msg = "add_resubscribe_listener() takes a channel that exists in-process."
            raise RuntimeError(msg)
        self.resubscribe_listeners.add(channel)

    def notify_resubscribed(self) -> None:
        LAYER_RESUBSCRIBES.labels(type(self).__name__).inc()
        self.resubscribe_listeners &= set(self.channels)
        logger.warning("Channel layer subscription re-established: %d socket(s) replay what they may have missed",
                       len(self.resubscribe_listeners))
        event = self.serialize(RESUBSCRIBED_EVENT)
        for channel in self.resubscribe_listeners:
            queue = self.channels.get(channel)
            if queue is not None and not queue.full():
                queue.put_nowait(event)
