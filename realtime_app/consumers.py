"""WebSocket consumers: ``ws/chat/`` and ``ws/notifications/``.

Both are explicitly async (AsyncJsonWebsocketConsumer) on sessions_app's :class:`RevocationMixin`, the
one mechanism for authentication (4401), groups, revocation, token expiry and cleanup. A socket joins
its user's groups only, so it can never receive another user's events; client frames are dispatched
through an explicit table, never by name, so a client cannot invoke channel-layer handlers. Bad frames,
and any unexpected error while handling one, get an error frame and the socket stays open.

What one socket may cost is bounded: frames per second (``FRAME_RATE_LIMIT``, ping included; a client
that keeps going is closed with 4008), messages per sync (``REPLAY_PAGE_SIZE``, then ``"more": true``),
one sync in flight at a time (``sync_in_progress``), bytes queued for a client that does not read
(``MAX_OUTGOING_BYTES``, then 4008), and presence writes (at most one per ``HEARTBEAT_INTERVAL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import aclose_old_connections
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from sessions_app.jwt.websocket import CLOSE_POLICY_VIOLATION, ReauthenticationFailed, RevocationMixin

from .backpressure import OutgoingBuffer
from .chat import ChatMessage, Replay, areplay, asend_message
from .conf import realtime_settings
from .errors import InvalidInput, RealtimeError
from .keys import chat_group, notification_group
from .limits import FrameBudget
from .metrics import CLOSED_SOCKETS, FRAME_ERRORS, OPEN_SOCKETS, REPLAYED, RESYNCS, SYNC_PAGES
from .notifications import anotifications_since
from .presence import presence_backend
from .resume import ChatResume, NotificationResume
from .streams import parse_stream_id

logger = logging.getLogger(__name__)


def utf8_length(text: str) -> int:
    """Bytes of ``text`` on the wire; without encoding it when it is ASCII (JSON we encode always is)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class HotPathDispatch:
    """Channels' ``AsyncConsumer.dispatch`` without its ``aclose_old_connections()`` for the hot messages.

    Channels closes stale database connections before every handler, in a thread (``sync_to_async``): on a
    chat message that is two thread hops on the way from sender to recipient (the sender's frame, the
    recipient's event) and one more for the sender's own copy, the largest cost the profile showed. The
    messages named here reach the database only through ``database_sync_to_async``, which closes stale
    connections itself; the one frame that may read a user row another way (``auth.refresh``) closes them
    first. Every other message (connect, disconnect, revocation) keeps Channels' behaviour.
    """

    database_free_messages = frozenset({"websocket.receive", "chat.deliver", "notification.deliver"})

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") not in self.database_free_messages:
            await super().dispatch(message)  # type: ignore[misc]
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            msg = f"No handler for message type {message['type']}"
            raise ValueError(msg)
        await handler(message)


class RealtimeConsumer(RevocationMixin, HotPathDispatch, AsyncJsonWebsocketConsumer):
    """Presence heartbeats, frame limits and validation, dispatch, sync pacing and the outgoing bound."""

    endpoint = "realtime"
    # Client frame type -> method name. Anything else is an "unknown_type" error.
    frame_handlers: dict[str, str] = {"ping": "frame_ping", "auth.refresh": "frame_auth_refresh"}
    # Set in connect(); the defaults hold for sockets refused before it runs.
    heartbeat: asyncio.Task | None = None
    alive_at = -math.inf  # monotonic time of the last presence write
    closing = False  # a close was sent: nothing more is queued for this client
    sync_end: int | None = None  # outgoing position just after the last sync's "synced" frame

    async def connect(self) -> None:
        # RevocationMixin refused anonymous sockets and joined socket_groups() before this runs.
        self.user = self.scope["user"]
        self.user_id = str(self.user.pk)
        self.outgoing = OutgoingBuffer(self.base_send)
        self.budget = FrameBudget()
        # Online before the client can see the socket open, so "connected" implies "online".
        await self.mark_alive(force=True)
        self.heartbeat = asyncio.ensure_future(self.heartbeat_loop())
        OPEN_SOCKETS.labels(self.endpoint).inc()
        await self.accept(self.scope.get("jwt_subprotocol"))
        await self.after_connect(parse_qs(self.scope.get("query_string", b"").decode("latin-1")))

    async def after_connect(self, query: dict[str, list[str]]) -> None:
        """Hook: replay from ``?since=`` and the like."""

    async def disconnect(self, code: int) -> None:
        """Stop the heartbeat and mark this connection closed (RevocationMixin runs this once, then leaves
        the groups, whatever the close path)."""
        if self.heartbeat is None:
            return
        self.heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.heartbeat
        OPEN_SOCKETS.labels(self.endpoint).dec()
        try:
            await presence_backend().aconnection_closed(self.user_id, self.channel_name)
        except RedisError:
            # The entry expires after PRESENCE_TTL anyway: that is why presence is not a counter.
            logger.warning("Could not mark connection %s closed; it expires by itself", self.channel_name)

    async def mark_alive(self, *, force: bool = False) -> None:
        """Refresh presence, at most once per HEARTBEAT_INTERVAL unless ``force``: a ping flood costs no Redis."""
        now = time.monotonic()
        if not force and now - self.alive_at < float(realtime_settings.HEARTBEAT_INTERVAL):
            return
        self.alive_at = now
        try:
            await presence_backend().aconnection_alive(self.user_id, self.channel_name)
        except RedisError:
            logger.warning("Could not refresh presence of connection %s", self.channel_name)

    async def heartbeat_loop(self) -> None:
        while True:
            delay = self.alive_at + float(realtime_settings.HEARTBEAT_INTERVAL) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            await self.mark_alive(force=True)

    # --- sending: the one way out, with the bound on what a client that does not read may queue -----

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
                   ) -> None:
        if self.closing:
            return  # closed for not reading: queueing more would only grow the buffer
        await super().send(text_data, bytes_data, close)
        if not hasattr(self, "outgoing"):
            return
        self.outgoing.record(utf8_length(text_data) if text_data is not None else len(bytes_data or b""))
        queued = self.outgoing.queued()
        limit = int(realtime_settings.MAX_OUTGOING_BYTES)
        if queued is not None and queued > limit:
            logger.warning("Closing socket %s: %d bytes queued for a client that is not reading (limit %d)",
                           self.channel_name, queued, limit)
            await self.close_for("not_reading", f"More than {limit} bytes queued; read your socket.")

    async def send_json(self, content: Any, close: bool = False) -> None:
        # Channels' send_json calls super().send(), which would skip the override above.
        await self.send(text_data=await self.encode_json(content), close=close)

    async def close_for(self, why: str, reason: str) -> None:
        """Close with 4008 (policy violation) and a reason, and queue nothing more."""
        if self.closing:
            return
        self.closing = True
        CLOSED_SOCKETS.labels(why).inc()
        await self.close(code=CLOSE_POLICY_VIOLATION, reason=reason[:120])  # a close reason is <= 123 bytes

    # --- client frames ------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.closing or not await self._within_budget():
            return
        content = await self._parse_frame(text_data)
        if content is None:
            return
        kind = content.get("type")
        handler = self.frame_handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {ascii(kind)[:50]}.")
            return
        client_id = content.get("client_id")
        try:
            await getattr(self, handler)(content)
        except RealtimeError as exc:
            await self.send_error(exc.code, exc.message, client_id=client_id, retry_after=exc.retry_after)
        except RedisError:
            logger.exception("Redis error handling a %s frame", kind)
            await self.send_error("unavailable", "Storage is unavailable; try again.", client_id=client_id)

    async def _within_budget(self) -> bool:
        """Take one frame from the budget; over it, answer an error frame (or close a client that keeps going)."""
        retry_after = self.budget.take()
        if retry_after is None:
            return True
        if self.budget.refused_in_a_row >= int(realtime_settings.FRAME_ABUSE_LIMIT):
            await self.close_for("frame_rate", "Too many frames.")
        else:
            await self.send_error("rate_limited", "Too many frames; slow down.", retry_after=retry_after)
        return False

    async def _parse_frame(self, text_data: str | None) -> dict[str, Any] | None:
        """The frame as a JSON object, bounded before parsing; None after answering an error frame."""
        limit = int(realtime_settings.MAX_FRAME_BYTES)
        if text_data is None:
            await self.send_error("binary_not_supported", "Send JSON text frames.")
            return None
        if len(text_data) > limit or (len(text_data) * 4 > limit and utf8_length(text_data) > limit):
            await self.send_error("frame_too_large", f"Frames are limited to {limit} bytes.")
            return None
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser allows
            await self.send_error("invalid_json", "The frame is not valid JSON.")
            return None
        if not isinstance(content, dict):
            await self.send_error("invalid_frame", "A frame must be a JSON object with a 'type'.")
            return None
        return content

    async def handler_failed(self, message: dict[str, Any], exc: Exception) -> None:
        """A bug while handling a client frame: answer an error frame and keep the socket (RevocationMixin
        logged it). Anything else (a channel-layer event) closes with 4011 so the client re-syncs."""
        if message.get("type") == "websocket.receive" and not self.closing:
            await self.send_error("internal_error", "The frame could not be handled.")
        else:
            await super().handler_failed(message, exc)

    async def send_error(self, code: str, detail: str, *, client_id: Any = None, retry_after: float | None = None
                         ) -> None:
        FRAME_ERRORS.labels(code).inc()
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if isinstance(client_id, int) and not isinstance(client_id, bool):
            frame["client_id"] = client_id
        elif isinstance(client_id, str) and len(client_id) <= 100:
            frame["client_id"] = client_id.encode("utf-8", "replace").decode()  # no lone surrogate back out
        if retry_after is not None:
            frame["retry_after"] = round(retry_after, 3)
        await self.send_json(frame)

    async def frame_ping(self, content: dict) -> None:
        await self.mark_alive()
        await self.send_json({"type": "pong"})

    async def frame_auth_refresh(self, content: dict) -> None:
        """``{"type": "auth.refresh", "token": "<access>"}``: the socket now closes when that token expires."""
        await aclose_old_connections()  # it may read the user row (HotPathDispatch skipped it for frames)
        try:
            expires = await self.reauthenticate(content.get("token"))
        except ReauthenticationFailed as exc:
            raise InvalidInput(exc.message, code=exc.code) from None
        iso = datetime.fromtimestamp(expires, tz=UTC).isoformat().replace("+00:00", "Z")
        await self.send_json({"type": "auth.ok", "expires_at": iso, "exp": expires})

    # --- sync pacing: at most one page in flight ----------------------------------------------------

    def begin_sync(self) -> None:
        """Refuse a sync while the previous one's pages have not left this process (the client is not
        reading them): each sync queues up to a page, so without this 200 syncs queue 200 pages."""
        if self.sync_end is not None and not self.outgoing.delivered(self.sync_end):
            msg = "The previous sync is still being delivered; read it first."
            raise InvalidInput(msg, code="sync_in_progress")

    async def end_sync(self, synced: dict[str, Any]) -> None:
        await self.send_json(synced)
        self.sync_end = self.outgoing.written
        SYNC_PAGES.labels(self.endpoint).inc()


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


class ChatConsumer(ChatResume, RealtimeConsumer):
    """``ws/chat/[?since=<id>[&with=<user id>]]``: send, receive and replay chat messages."""

    endpoint = "chat"
    frame_handlers = {**RealtimeConsumer.frame_handlers, "chat.message": "frame_chat_message",
                      "chat.sync": "frame_chat_sync"}

    def socket_groups(self) -> list[str]:
        return [*super().socket_groups(), chat_group(self.scope["user"].pk)]

    async def after_connect(self, query: dict[str, list[str]]) -> None:
        # Per partner, the newest id this socket replayed: live copies of those arriving meanwhile are dropped.
        self.replayed_upto: dict[str, tuple[int, int]] = {}
        since = _first(query, "since")
        if since is not None:
            try:
                await self.replay(since, _first(query, "with"))
            except RealtimeError as exc:
                await self.send_error(exc.code, exc.message)

    async def frame_chat_message(self, content: dict) -> None:
        for name in ("to", "text"):
            if name not in content:
                msg = f"'{name}' is required."
                raise InvalidInput(msg, code="missing_field")
        client_id = content.get("client_id")
        message = await asend_message(self.user, content["to"], content["text"], client_id=client_id,
                                      exclude_channel=self.channel_name)
        ack = {"type": "chat.ack", "client_id": client_id, "id": message.id, "sent_at": message.sent_at,
               "cursor": message.cursor}
        if message.duplicate:
            ack["duplicate"] = True  # a resend: the id is the original message's, nothing new was sent
        await self.send_json(ack)

    async def frame_chat_sync(self, content: dict) -> None:
        if "since" not in content:
            msg = "'since' is required."
            raise InvalidInput(msg, code="missing_field")
        await self.replay(content["since"], content.get("with"))

    async def replay(self, since: object, with_user: object | None) -> None:
        """One page from ``since``; the client continues from ``chat.synced``'s cursor while ``more``."""
        self.begin_sync()
        result: Replay = await areplay(self.user_id, since, with_user=with_user)
        for message in result.messages:
            partner = message.recipient if message.sender == self.user_id else message.sender
            position = parse_stream_id(message.id)
            self.replayed_upto[partner] = max(position, self.replayed_upto.get(partner, (0, 0)))
            await self.send_json(message.as_frame())
        for partner in result.lost:
            await self.send_json({"type": "chat.resync_required", "with": partner, "since": str(since)})
        REPLAYED.labels("chat").inc(len(result.messages))
        RESYNCS.labels("chat").inc(len(result.lost))
        if result.messages:
            last_id, cursor = result.messages[-1].id, result.messages[-1].cursor
        else:
            last_id, cursor = str(since).partition("@")[0], str(since)
        await self.end_sync({"type": "chat.synced", "count": len(result.messages), "last_id": last_id,
                             "cursor": cursor, "more": result.more})

    async def chat_deliver(self, event: dict) -> None:
        if event.get("exclude") == self.channel_name:
            return  # the sending socket got its ack
        message = ChatMessage.from_event(event["message"])
        if self.user_id not in (message.sender, message.recipient):
            return  # defence in depth: groups are per user, so this never happens
        partner = message.recipient if message.sender == self.user_id else message.sender
        upto = self.replayed_upto.get(partner)
        if upto is not None and parse_stream_id(message.id) <= upto:
            return  # already sent by the replay
        await self.send_json(message.as_frame())


class NotificationConsumer(NotificationResume, RealtimeConsumer):
    """``ws/notifications/[?since=<id>]``: live notifications of the connected user, with replay."""

    endpoint = "notifications"
    frame_handlers = {**RealtimeConsumer.frame_handlers, "notification.sync": "frame_notification_sync"}

    def socket_groups(self) -> list[str]:
        return [*super().socket_groups(), notification_group(self.scope["user"].pk)]

    async def after_connect(self, query: dict[str, list[str]]) -> None:
        self.replayed_upto: tuple[int, int] | None = None
        since = _first(query, "since")
        if since is not None:
            try:
                await self.replay(since)
            except RealtimeError as exc:
                await self.send_error(exc.code, exc.message)

    async def frame_notification_sync(self, content: dict) -> None:
        if "since" not in content:
            msg = "'since' is required."
            raise InvalidInput(msg, code="missing_field")
        await self.replay(content["since"])

    async def replay(self, since: object) -> None:
        """One page from ``since``; the client continues from ``notification.synced``'s last_id while ``more``."""
        self.begin_sync()
        items, lost, more = await anotifications_since(self.user_id, since,
                                                       limit=int(realtime_settings.REPLAY_PAGE_SIZE))
        if lost:
            RESYNCS.labels("notifications").inc()
            await self.send_json({"type": "notification.resync_required", "since": str(since)})
        for item in items:
            self.replayed_upto = max(parse_stream_id(item.id), self.replayed_upto or (0, 0))
            await self.send_json(item.as_frame())
        REPLAYED.labels("notifications").inc(len(items))
        last = items[-1].id if items else str(since)
        await self.end_sync({"type": "notification.synced", "count": len(items), "last_id": last, "more": more})

    async def notification_deliver(self, event: dict) -> None:
        frame = event["notification"]
        if self.replayed_upto is not None and parse_stream_id(frame["id"]) <= self.replayed_upto:
            return
        await self.send_json(frame)
