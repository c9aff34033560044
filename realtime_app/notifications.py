"""Notifications: a capped Redis Stream per user plus live delivery to their notification sockets.

``publish_notification`` is for sync code (views, signals, management commands) and
``apublish_notification`` its async twin; both store first, then deliver, so a client that was offline
fetches what it missed with ``GET /api/notifications/?since=<id>`` or ``ws/notifications/?since=<id>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from redis.exceptions import RedisError

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.twins import Call, Op, Pipe, Twin, arun, run

from .conf import realtime_settings
from .delivery import adeliver, deliver
from .errors import InvalidInput, Unavailable
from .keys import notification_group, notifications_key
from .metrics import NOTIFICATIONS
from .streams import client_position, cursor_lost, decode_entries, format_stream_id, id_time
from .validation import require_utf8


@dataclass(frozen=True)
class Notification:
    id: str
    user_id: str
    kind: str
    title: str
    data: Any

    def as_frame(self) -> dict[str, Any]:
        return {"type": "notification", "id": self.id, "kind": self.kind, "title": self.title,
                "data": self.data, "created_at": id_time(self.id)}

    @classmethod
    def from_entry(cls, user_id: object, entry_id: str, fields: dict[str, str]) -> Notification:
        return cls(entry_id, str(user_id), fields.get("kind", ""), fields.get("title", ""),
                   json.loads(fields.get("data") or "null"))


def _fields(kind: str, title: str, data: Any) -> dict[str, str]:
    if not isinstance(kind, str) or not kind:
        msg = "'kind' must be a non-empty string."
        raise InvalidInput(msg, code="invalid_kind")
    return {"kind": require_utf8(kind, "kind", "invalid_kind"),
            "title": require_utf8(str(title), "title", "invalid_title"),
            "data": json.dumps(data, cls=DjangoJSONEncoder)}


def _store(user_id: object, fields: dict[str, str]) -> Pipe:
    key = notifications_key(user_id)
    return Pipe((Call("xadd", (key, fields), {"maxlen": int(realtime_settings.NOTIFICATION_STREAM_MAXLEN),
                                               "approximate": True}),
                 Call("expire", (key, int(realtime_settings.NOTIFICATION_STREAM_TTL)))))


def _event(notification: Notification) -> dict[str, Any]:
    return {"type": "notification.deliver", "notification": notification.as_frame()}


def _publish_op(user_id: object, kind: str, title: str, data: Any) -> Op:
    """Store, then deliver one notification: the logic of both twins."""
    fields = _fields(kind, title, data)
    try:
        entry_id = (yield _store(user_id, fields))[0].decode()
    except RedisError as exc:
        msg = "Notification storage is unavailable."
        raise Unavailable(msg) from exc
    notification = Notification(entry_id, str(user_id), kind, fields["title"], json.loads(fields["data"]))
    yield Twin(deliver, adeliver, ((notification_group(user_id),), _event(notification), "notification"))
    NOTIFICATIONS.labels(kind).inc()
    return notification


def _redis() -> Any:
    return get_redis(realtime_settings.REDIS_ALIAS)


def _async_redis() -> Any:
    return get_async_redis(realtime_settings.REDIS_ALIAS)


def publish_notification(user_id: object, kind: str, title: str, data: Any = None) -> Notification:
    """Store and deliver one notification from sync code. Raises :class:`Unavailable` if Redis is down."""
    return run(_publish_op(user_id, kind, title, data), _redis)


async def apublish_notification(user_id: object, kind: str, title: str, data: Any = None) -> Notification:
    """Async twin of :func:`publish_notification`."""
    return await arun(_publish_op(user_id, kind, title, data), _async_redis)


def _cursor(since: object | None) -> tuple[int, int] | None:
    if since in (None, ""):
        return None
    return client_position(since, "since")


class NotificationPage(NamedTuple):
    items: list[Notification]
    lost: bool  # entries after ``since`` were trimmed away: the client must resync
    more: bool  # the page is full: read again from its last id


def _read(user_id: object, cursor: tuple[int, int] | None, limit: int | None) -> Pipe:
    key = notifications_key(user_id)
    # One entry over the page tells whether there is more.
    return Pipe((Call("xrange", (key,), {"min": "(" + format_stream_id(cursor) if cursor else "-", "max": "+",
                                         "count": None if limit is None else limit + 1}),
                 Call("xinfo_stream", (key,))), raise_on_error=False)


def _result(user_id: object, entries: Any, info: Any, cursor: tuple[int, int] | None, limit: int | None
            ) -> NotificationPage:
    if isinstance(entries, Exception):
        raise entries
    items = [Notification.from_entry(user_id, i, f) for i, f in decode_entries(entries)]
    lost = (cursor is not None and not isinstance(info, Exception)
            and cursor_lost(info, cursor, int(realtime_settings.NOTIFICATION_STREAM_MAXLEN)))
    more = limit is not None and len(items) > limit
    return NotificationPage(items[:limit] if more else items, lost, more)


def _since_op(user_id: object, since: object | None, limit: int | None) -> Op:
    """One page of notifications after ``since``: the logic of both twins."""
    cursor = _cursor(since)
    try:
        entries, info = yield _read(user_id, cursor, limit)
        return _result(user_id, entries, info, cursor, limit)
    except RedisError as exc:
        msg = "Notification storage is unavailable."
        raise Unavailable(msg) from exc


def notifications_since(user_id: object, since: object | None = None, limit: int | None = None
                        ) -> NotificationPage:
    """Notifications after ``since`` (all retained ones without it), oldest first, at most ``limit``."""
    return run(_since_op(user_id, since, limit), _redis)


async def anotifications_since(user_id: object, since: object | None = None, limit: int | None = None
                               ) -> NotificationPage:
    """Async twin of :func:`notifications_since`."""
    return await arun(_since_op(user_id, since, limit), _async_redis)
