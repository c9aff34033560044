"""Presence as other users see it: ``last_seen`` rounded, and the user's "hide my online status".

A dating app must not publish when someone was active to the millisecond, nor show them online
when they asked not to be. The user themselves always see the exact truth; anyone else gets
:func:`presence_for`'s view. The setting lives in Redis next to the user's presence keys (same hash tag).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caching_app.foundation.connections import get_redis

from . import keys, services
from .conf import sessions_settings


def _client() -> Any:
    return get_redis(sessions_settings.REDIS_ALIAS)


def set_presence_hidden(user_id: object, hidden: bool) -> None:
    key = keys.presence_hidden_key(keys.user_tag(user_id))
    if hidden:
        _client().set(key, b"1")
    else:
        _client().delete(key)


def is_presence_hidden(user_id: object) -> bool:
    return bool(_client().exists(keys.presence_hidden_key(keys.user_tag(user_id))))


def round_last_seen(seen: datetime | None) -> datetime | None:
    """Down to ``LAST_SEEN_PRECISION`` seconds (down, so it never claims activity that did not happen)."""
    precision = int(sessions_settings.LAST_SEEN_PRECISION)
    if seen is None or precision <= 0:
        return seen
    stamp = int(seen.timestamp())
    return datetime.fromtimestamp(stamp - stamp % precision, tz=seen.tzinfo)


def presence_for(viewer_id: object, user_id: object) -> dict[str, Any]:
    """``{"online", "last_seen"}`` of ``user_id`` as ``viewer_id`` may see it (plus ``"hidden"`` for oneself)."""
    if str(viewer_id) == str(user_id):
        seen = services.last_seen(user_id)
        return {"online": services.is_user_online(user_id), "last_seen": seen.isoformat() if seen else None,
                "hidden": is_presence_hidden(user_id)}
    if is_presence_hidden(user_id):
        return {"online": False, "last_seen": None}
    seen = round_last_seen(services.last_seen(user_id))
    return {"online": services.is_user_online(user_id), "last_seen": seen.isoformat() if seen else None}
