"""Receivers that turn other apps' events into notifications."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from .errors import Unavailable
from .notifications import publish_notification

logger = logging.getLogger(__name__)


def _user_id(user: Any) -> object:
    return getattr(user, "pk", user)


def _match_users(kwargs: dict[str, Any]) -> list[Any]:
    """The two users (or ids) of a match: the demo sends ``user_ids=(first, second)``; others are accepted."""
    for name in ("user_ids", "users"):
        if kwargs.get(name):
            return list(kwargs[name])
    for first, second in (("user_a", "user_b"), ("user", "other"), ("user1", "user2"), ("liker", "liked")):
        if first in kwargs and second in kwargs:
            return [kwargs[first], kwargs[second]]
    match = kwargs.get("match") or kwargs.get("instance")
    if match is not None:
        for first, second in (("user_a", "user_b"), ("user1", "user2"), ("liker", "liked")):
            if hasattr(match, first) and hasattr(match, second):
                return [getattr(match, first), getattr(match, second)]
    return []


def notify_match(sender: Any = None, **kwargs: Any) -> None:
    """``winkr.demo.signals.match_created`` -> a "match" notification to both users.

    A notification that cannot be stored is logged, never raised: the like itself already happened.
    """
    users = _match_users(kwargs)
    if len(users) != 2:
        logger.warning("match_created sent without two users (%s); no notification", sorted(kwargs))
        return
    for user, other in (users, users[::-1]):
        try:
            publish_notification(_user_id(user), "match", "New match!", {"user_id": _user_id(other)})
        except (Unavailable, RedisError):
            logger.exception("Could not notify user %s of a match", _user_id(user))


def connect_match_signal() -> bool:
    """Connect :func:`notify_match` when the demo app provides its signal; False when it does not (yet)."""
    try:
        from winkr.demo.signals import match_created
    except ImportError:
        return False
    match_created.connect(notify_match, dispatch_uid="realtime_app.notify_match")
    return True
