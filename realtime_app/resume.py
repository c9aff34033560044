"""Open sockets replay what the channel layer may have dropped while its subscription was down.

Live delivery is at-most-once: while the layer's pub/sub subscription is being re-established (Redis
restarted, Sentinel or Cluster failover, a network blip) published messages are lost. The layer then
sends ``layer.resubscribed`` to every socket that asked (realtime_app.resubscribe); each socket replays
from the Stream everything after the last position it delivered, skipping what it already sent, so
the client sees every message once and in order without noticing. If the replay itself fails, the
socket is closed with 4012 (RFC 6455 1012, in the range daphne lets an app send)
and the client reconnects with ``since``.

The socket's position is the newest stream id it sent, live or replayed (its connect time before the
first), minus :data:`REORDER_MARGIN_MS`: two messages of different senders may be published in the
opposite order of their ids, so the replay looks back a little and the ids already sent are skipped.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from sessions_app.jwt.websocket import CLOSE_SERVICE_RESTART

from .chat import ChatMessage, areplay
from .conf import realtime_settings
from .errors import RealtimeError
from .notifications import anotifications_since
from .streams import parse_stream_id

logger = logging.getLogger(__name__)

REORDER_MARGIN_MS = 2000
# Ids remembered per socket to skip duplicates; a socket receives far fewer within the margin.
REMEMBERED_IDS = 1000


class SentIds:
    """The most recent :data:`REMEMBERED_IDS` frame keys sent on one socket (a bounded set)."""

    def __init__(self, size: int = REMEMBERED_IDS):
        self.size = size
        self.keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> None:
        self.keys[key] = None
        self.keys.move_to_end(key)
        if len(self.keys) > self.size:
            self.keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self.keys


if TYPE_CHECKING:  # the mixin is checked against the consumer it goes in front of
    from channels.generic.websocket import AsyncJsonWebsocketConsumer as _ConsumerBase
else:
    _ConsumerBase = object


class ResumeAfterResubscribe(_ConsumerBase):
    """Mixin for a RealtimeConsumer: tracks what the socket sent, replays after a resubscription.

    Subclasses name their live event types (``live_events``: event type -> payload key) and implement
    :meth:`frames_since`.
    """

    live_events: dict[str, str] = {}
    user_id: str  # set by the consumer's connect()

    def frame_key(self, frame: Any) -> str | None:
        """The identity of a message frame (None for other frames)."""
        raise NotImplementedError

    def live_key(self, payload: Any) -> str | None:
        """The identity of a live event's payload, as :meth:`frame_key` gives it for the frame it becomes."""
        return self.frame_key(payload)

    async def frames_since(self, since: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def connect(self) -> None:
        self.sent_ids = SentIds()
        self.position_ms = int(time.time() * 1000)
        await super().connect()
        if getattr(self, "accepted", False) and hasattr(self.channel_layer, "add_resubscribe_listener"):
            self.channel_layer.add_resubscribe_listener(self.channel_name)

    async def send_json(self, content: Any, close: bool = False) -> None:
        key = self.frame_key(content)
        if key is not None:
            self.sent_ids.add(key)
            self.position_ms = max(self.position_ms, parse_stream_id(content["id"])[0])
        await super().send_json(content, close)

    async def dispatch(self, message: dict) -> None:
        payload = self.live_events.get(str(message.get("type")))
        if payload is not None and self.live_key(message.get(payload)) in self.sent_ids:
            return  # already sent by a replay after a resubscription
        await super().dispatch(message)

    async def layer_resubscribed(self, event: dict) -> None:
        since = f"{max(self.position_ms - REORDER_MARGIN_MS, 0)}-0"
        try:
            frames = await self.frames_since(since)
        except (RealtimeError, RedisError, OSError) as exc:
            logger.warning("Could not replay after a channel-layer resubscription (%r): closing with 4012", exc)
            await self.close(code=CLOSE_SERVICE_RESTART)
            return
        for frame in frames:
            if self.frame_key(frame) not in self.sent_ids:
                await self.send_json(frame)


class ChatResume(ResumeAfterResubscribe):
    live_events = {"chat.deliver": "message"}

    def frame_key(self, frame: Any) -> str | None:
        # A cursor (id@conversation) is unique across conversations; acks carry it too.
        if isinstance(frame, dict) and frame.get("type") in ("chat.message", "chat.ack") and frame.get("cursor"):
            return frame["cursor"]
        return None

    def live_key(self, payload: Any) -> str | None:
        # A chat.deliver event carries the stored message, not its frame (ChatMessage.as_event). A malformed
        # one has no key here; its handler raises inside RevocationMixin's error handling (close 4011).
        try:
            return ChatMessage.from_event(payload).cursor
        except (KeyError, TypeError):
            return None

    async def frames_since(self, since: str) -> list[dict[str, Any]]:
        """One replay page (bounded like a client's sync); past it, ``chat.synced`` with ``more`` tells the
        client to go on syncing from its cursor."""
        result = await areplay(self.user_id, since)
        frames = [message.as_frame() for message in result.messages]
        frames += [{"type": "chat.resync_required", "with": partner, "since": since} for partner in result.lost]
        if result.more:
            last = result.messages[-1]
            frames.append({"type": "chat.synced", "count": len(result.messages), "last_id": last.id,
                           "cursor": last.cursor, "more": True})
        return frames


class NotificationResume(ResumeAfterResubscribe):
    live_events = {"notification.deliver": "notification"}

    def frame_key(self, frame: Any) -> str | None:
        if isinstance(frame, dict) and frame.get("type") == "notification" and frame.get("id"):
            return frame["id"]
        return None

    async def frames_since(self, since: str) -> list[dict[str, Any]]:
        """One replay page; past it, ``notification.synced`` with ``more`` (the client syncs on)."""
        items, lost, more = await anotifications_since(self.user_id, since,
                                                       limit=int(realtime_settings.REPLAY_PAGE_SIZE))
        frames: list[dict[str, Any]] = [{"type": "notification.resync_required", "since": since}] if lost else []
        frames += [item.as_frame() for item in items]
        if more:
            frames.append({"type": "notification.synced", "count": len(items), "last_id": items[-1].id, "more": True})
        return frames
