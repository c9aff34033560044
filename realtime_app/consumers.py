"""WebSocket consumers: ``ws/chat/`` and ``ws/notifications/``.

Both are explicitly async (AsyncJsonWebsocketConsumer). A socket joins its user's groups only, so it
can never receive another user's events; client frames are dispatched through an explicit table, never
by name, so a client cannot invoke channel-layer handlers. Bad frames get an error frame and the socket
stays open; an unauthenticated or revoked socket is closed with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from sessions_app.jwt.websocket import RevocationMixin

from .chat import Replay, areplay, asend_message
from .conf import realtime_settings
from .errors import InvalidInput, RealtimeError
from .keys import chat_group, notification_group
from .metrics import FRAME_ERRORS, OPEN_SOCKETS, REPLAYED, RESYNCS
from .notifications import anotifications_since
from .presence import presence_backend
from .resume import ChatResume, NotificationResume
from .streams import parse_stream_id

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401


class RealtimeConsumer(RevocationMixin, AsyncJsonWebsocketConsumer):
    """Authentication, presence heartbeats, frame validation and dispatch shared by both endpoints.

    sessions_app's RevocationMixin closes anonymous sockets with 4401 before ``connect`` runs, and
    joins the device-session and user revocation groups so a logout closes open sockets (4401).
    """

    endpoint = "realtime"
    # Client frame type -> method name. Anything else is an "unknown_type" error.
    frame_handlers: dict[str, str] = {"ping": "frame_ping"}
    # Set in connect(); the defaults hold for sockets refused before it runs.
    heartbeat: asyncio.Task | None = None
    joined: tuple[str, ...] | list[str] = ()

    def user_groups(self) -> list[str]:
        return []

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.joined = []
        if self.user is None or not getattr(self.user, "is_authenticated", False):
            # Accept first: a close before the handshake completes is an HTTP 403 and the client never
            # sees the code. After accept, 4401 tells the client to authenticate again.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = str(self.user.pk)
        for group in self.user_groups():
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        # Online before the client can see the socket open, so "connected" implies "online".
        await self.mark_alive()
        self.heartbeat = asyncio.ensure_future(self.heartbeat_loop())
        OPEN_SOCKETS.labels(self.endpoint).inc()
        await self.accept(self.scope.get("jwt_subprotocol"))
        await self.after_connect(parse_qs(self.scope.get("query_string", b"").decode("latin-1")))

    async def after_connect(self, query: dict[str, list[str]]) -> None:
        """Hook: replay from ``?since=`` and the like."""

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
            OPEN_SOCKETS.labels(self.endpoint).dec()
            try:
                await presence_backend().aconnection_closed(self.user_id, self.channel_name)
            except RedisError:
                # The entry expires after PRESENCE_TTL anyway: that is why presence is not a counter.
                logger.warning("Could not mark connection %s closed; it expires by itself", self.channel_name)
        for group in self.joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except (RedisError, OSError) as exc:
                logger.warning("Could not leave group %s on disconnect: %r", group, exc)
        self.joined = []

    async def mark_alive(self) -> None:
        try:
            await presence_backend().aconnection_alive(self.user_id, self.channel_name)
        except RedisError:
            logger.warning("Could not refresh presence of connection %s", self.channel_name)

    async def heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(float(realtime_settings.HEARTBEAT_INTERVAL))
            await self.mark_alive()

    # --- client frames ------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        limit = int(realtime_settings.MAX_FRAME_BYTES)
        if text_data is None:
            await self.send_error("binary_not_supported", "Send JSON text frames.")
            return
        if len(text_data) > limit or len(text_data.encode("utf-8", "surrogatepass")) > limit:
            await self.send_error("frame_too_large", f"Frames are limited to {limit} bytes.")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser allows
            await self.send_error("invalid_json", "The frame is not valid JSON.")
            return
        if not isinstance(content, dict):
            await self.send_error("invalid_frame", "A frame must be a JSON object with a 'type'.")
            return
        kind = content.get("type")
        handler = self.frame_handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {str(kind)[:50]!r}.")
            return
        client_id = content.get("client_id")
        try:
            await getattr(self, handler)(content)
        except RealtimeError as exc:
            await self.send_error(exc.code, exc.message, client_id=client_id, retry_after=exc.retry_after)
        except RedisError:
            logger.exception("Redis error handling a %s frame", kind)
            await self.send_error("unavailable", "Storage is unavailable; try again.", client_id=client_id)

    async def send_error(self, code: str, detail: str, *, client_id: Any = None, retry_after: float | None = None
                         ) -> None:
        FRAME_ERRORS.labels(code).inc()
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if isinstance(client_id, str | int) and not isinstance(client_id, bool):
            frame["client_id"] = client_id
        if retry_after is not None:
            frame["retry_after"] = round(retry_after, 3)
        await self.send_json(frame)

    async def frame_ping(self, content: dict) -> None:
        await self.mark_alive()
        await self.send_json({"type": "pong"})

def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


class ChatConsumer(ChatResume, RealtimeConsumer):
    """``ws/chat/[?since=<id>[&with=<user id>]]``: send, receive and replay chat messages."""

    endpoint = "chat"
    frame_handlers = {"ping": "frame_ping", "chat.message": "frame_chat_message", "chat.sync": "frame_chat_sync"}

    def user_groups(self) -> list[str]:
        return [*super().user_groups(), chat_group(self.user_id)]

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
                raise InvalidInput(f"'{name}' is required.", code="missing_field")
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
            raise InvalidInput("'since' is required.", code="missing_field")
        await self.replay(content["since"], content.get("with"))

    async def replay(self, since: object, with_user: object | None) -> None:
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
        await self.send_json({"type": "chat.synced", "count": len(result.messages), "last_id": last_id,
                              "cursor": cursor})

    async def chat_deliver(self, event: dict) -> None:
        message = event["message"]
        if event.get("exclude") == self.channel_name:
            return  # the sending socket got its ack
        if self.user_id not in (message.get("from"), message.get("to")):
            return  # defence in depth: groups are per user, so this never happens
        partner = message["to"] if message["from"] == self.user_id else message["from"]
        upto = self.replayed_upto.get(partner)
        if upto is not None and parse_stream_id(message["id"]) <= upto:
            return  # already sent by the replay
        await self.send_json(message)


class NotificationConsumer(NotificationResume, RealtimeConsumer):
    """``ws/notifications/[?since=<id>]``: live notifications of the connected user, with replay."""

    endpoint = "notifications"
    frame_handlers = {"ping": "frame_ping", "notification.sync": "frame_notification_sync"}

    def user_groups(self) -> list[str]:
        return [*super().user_groups(), notification_group(self.user_id)]

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
            raise InvalidInput("'since' is required.", code="missing_field")
        await self.replay(content["since"])

    async def replay(self, since: object) -> None:
        items, lost = await anotifications_since(self.user_id, since)
        if lost:
            RESYNCS.labels("notifications").inc()
            await self.send_json({"type": "notification.resync_required", "since": str(since)})
        for item in items:
            self.replayed_upto = max(parse_stream_id(item.id), self.replayed_upto or (0, 0))
            await self.send_json(item.as_frame())
        REPLAYED.labels("notifications").inc(len(items))
        last = items[-1].id if items else str(since)
        await self.send_json({"type": "notification.synced", "count": len(items), "last_id": last})

    async def notification_deliver(self, event: dict) -> None:
        frame = event["notification"]
        if self.replayed_upto is not None and parse_stream_id(frame["id"]) <= self.replayed_upto:
            return
        await self.send_json(frame)
