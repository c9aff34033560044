"""Presence operations as Redis steps (caching_app.foundation.twins): who is online, since when, per socket.

A user is online while a socket's heartbeat is alive (``connection_alive``) or they were active within
``ONLINE_WINDOW``; the per-user presence set is exact, the sharded online index (:mod:`.indexes`) is what
counts and pages read.
"""

from __future__ import annotations

import time

from caching_app.foundation.twins import Call, Op, Pipe

from . import keys as k
from .conf import sessions_settings
from .devices import clean
from .indexes import ONLINE, legacy_present
from .records import from_ms
from .scripts import LUA_SCRIPTS

Eval = LUA_SCRIPTS.step  # this app's lua/ scripts
CONNECTION_PREFIX = "c:"
MAX_CONNECTION_ID_LENGTH = 200
MAX_PAGE = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def window_ms() -> int:
    """``ONLINE_WINDOW`` in ms: activity this recent counts as online."""
    return int(sessions_settings.ONLINE_WINDOW * 1000)


def seen_ttl_ms() -> int:
    """``LAST_SEEN_TTL`` in ms: how long last_seen is remembered."""
    return int(sessions_settings.LAST_SEEN_TTL * 1000)


def is_online(user_id: object) -> Op:
    found = yield Call("zrangebyscore", (k.presence_key(k.user_tag(user_id)), f"({now_ms()}", "+inf"),
                       {"start": 0, "num": 1})
    return bool(found)


def online_users(offset: int, limit: int) -> Op:
    if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or not 0 < limit <= MAX_PAGE:
        msg = f"offset must be >= 0 and limit between 1 and {MAX_PAGE}"
        raise ValueError(msg)
    return (yield from ONLINE.page(offset, limit, now_ms()))


def count_online() -> Op:
    return (yield from ONLINE.count(now_ms()))


def last_seen(user_id: object) -> Op:
    return from_ms((yield Call("get", (k.last_seen_key(k.user_tag(user_id)),))))


def _connection_member(connection_id: object) -> str:
    text = clean(connection_id, MAX_CONNECTION_ID_LENGTH)
    if not text:
        msg = "connection_id must be a non-empty string"
        raise ValueError(msg)
    return CONNECTION_PREFIX + text


def connection_alive(user_id: object, connection_id: object, ttl: float | None) -> Op:
    ttl = sessions_settings.CONNECTION_TTL if ttl is None else ttl
    if ttl <= 0:
        msg = "ttl must be positive"
        raise ValueError(msg)
    uid = str(user_id)
    tag = k.user_tag(uid)
    until = yield Eval("connection_alive", [k.presence_key(tag), k.last_seen_key(tag)],
                       [_connection_member(connection_id), now_ms(), int(ttl * 1000), seen_ttl_ms()])
    legacy = yield from legacy_present()
    yield Pipe(ONLINE.add({uid: int(until)}, legacy=legacy, gt=True))
    return None


def connection_closed(user_id: object, connection_id: object) -> Op:
    uid = str(user_id)
    tag = k.user_tag(uid)
    now = now_ms()
    until = int((yield Eval("connection_closed", [k.presence_key(tag), k.last_seen_key(tag)],
                            [_connection_member(connection_id), now, seen_ttl_ms()])))
    # Not GT: the user may go offline now. A heartbeat of another socket racing this write is
    # repaired by that socket's next heartbeat; is_user_online reads the per-user set and is exact.
    legacy = yield from legacy_present()
    if until > now:
        yield Pipe(ONLINE.add({uid: until}, legacy=legacy))
    else:
        yield Pipe(ONLINE.remove([uid], legacy=legacy))
    return None


def online_flags(user_ids: list[str]) -> Op:
    """``{user_id: online}`` for several users in one round trip."""
    now = now_ms()
    replies = yield Pipe([Call("zrangebyscore", (k.presence_key(k.user_tag(uid)), f"({now}", "+inf"),
                               {"start": 0, "num": 1}) for uid in user_ids])
    return {uid: bool(found) for uid, found in zip(user_ids, replies, strict=True)}
