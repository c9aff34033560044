"""The sessions service API: device sessions, "log out everywhere" and online status.

Every function has an async twin prefixed with ``a`` (``create_session`` / ``acreate_session``)
that runs the same steps (:mod:`.device_steps`, :mod:`.presence_steps`) natively on ``redis.asyncio``.
Redis errors propagate
as ``redis.exceptions.RedisError``: views turn them into 503, management commands into
CommandError. Whenever a device session disappears through this API (logout, revocation,
eviction), :data:`sessions_app.signals.device_session_revoked` is sent.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.twins import arun, run

from . import device_steps, keys, presence_steps
from .conf import sessions_settings
from .metrics import SESSIONS_CREATED, SESSIONS_DELETED
from .records import COOKIE, JWT, DeviceSession
from .signals import device_session_revoked

logger = logging.getLogger(__name__)

__all__ = [
    "COOKIE", "JWT", "DeviceSession",
    "create_session", "get_session", "list_sessions", "update_session_activity", "delete_session",
    "delete_all_sessions", "is_user_online", "get_online_users", "last_seen", "count_active_sessions",
    "count_online_users", "mark_connection_alive", "mark_connection_closed", "clear_expired", "browse_sessions",
    "online_flags",
    "acreate_session", "aget_session", "alist_sessions", "aupdate_session_activity", "adelete_session",
    "adelete_all_sessions", "ais_user_online", "aget_online_users", "alast_seen", "acount_active_sessions",
    "acount_online_users", "amark_connection_alive", "amark_connection_closed", "aclear_expired",
]


def _client() -> Any:
    return get_redis(sessions_settings.REDIS_ALIAS)


def _aclient() -> Any:
    return get_async_redis(sessions_settings.REDIS_ALIAS)


def _announce(gone: list[tuple[str, str, str]], reason: str) -> None:
    for session_id, user_id, kind in gone:
        SESSIONS_DELETED.labels(kind, reason).inc()
        device_session_revoked.send(sender=DeviceSession, session_id=session_id, user_id=user_id, kind=kind,
                                    reason=reason)


async def _aannounce(gone: list[tuple[str, str, str]], reason: str) -> None:
    for session_id, user_id, kind in gone:
        SESSIONS_DELETED.labels(kind, reason).inc()
        await device_session_revoked.asend(sender=DeviceSession, session_id=session_id, user_id=user_id, kind=kind,
                                           reason=reason)


# Opportunistic sweeps: at most one per CLEANUP_INTERVAL across all processes (a SET NX lock),
# checked only at login so requests never pay for it; `clearsessions` does a full sweep.
_next_sweep = [0.0]
OPPORTUNISTIC_BATCHES = 2


def _sweep_due() -> bool:
    now = time.monotonic()
    if now < _next_sweep[0]:
        return False
    _next_sweep[0] = now + sessions_settings.CLEANUP_INTERVAL
    return True


def _maybe_sweep() -> None:
    if _sweep_due() and _client().set(keys.cleanup_lock_key(), b"1", nx=True,
                                      ex=int(sessions_settings.CLEANUP_INTERVAL)):
        removed = run(device_steps.sweep(max_batches=OPPORTUNISTIC_BATCHES), _client())
        logger.info("swept %d expired device sessions from the indexes", removed)


async def _amaybe_sweep() -> None:
    if _sweep_due() and await _aclient().set(keys.cleanup_lock_key(), b"1", nx=True,
                                             ex=int(sessions_settings.CLEANUP_INTERVAL)):
        removed = await arun(device_steps.sweep(max_batches=OPPORTUNISTIC_BATCHES), _aclient())
        logger.info("swept %d expired device sessions from the indexes", removed)


# --- device sessions ---------------------------------------------------------------------------------


def create_session(user_id: object, *, kind: str, session_id: str | None = None, ip: str | None = None,
                   user_agent: str | None = None, device: dict | None = None, ttl: int | None = None
                   ) -> DeviceSession:
    """Register a device session for ``user_id`` and return it.

    ``kind`` is ``"cookie"`` (a Django session: pass its ``session_key``) or ``"jwt"`` (leave
    ``session_id`` out: a new id is made; put it in the tokens). ``device`` holds what the client
    sent (device_id, device_type, os, browser, location); missing fields are read from
    ``user_agent`` with ua-parser. ``ttl`` defaults to SESSION_TTL (JWT_SESSION_TTL for JWT
    sessions, which slide on activity). Beyond MAX_SESSIONS_PER_USER, the user's oldest device
    sessions are evicted (and announced with ``device_session_revoked``, reason "evicted").
    """
    record, evicted = run(device_steps.create(user_id, kind, session_id, ip, user_agent, device, ttl), _client())
    SESSIONS_CREATED.labels(kind).inc()
    _announce(evicted, "evicted")
    _maybe_sweep()
    return record


async def acreate_session(user_id: object, *, kind: str, session_id: str | None = None, ip: str | None = None,
                          user_agent: str | None = None, device: dict | None = None, ttl: int | None = None
                          ) -> DeviceSession:
    """Async twin of :func:`create_session`."""
    steps = device_steps.create(user_id, kind, session_id, ip, user_agent, device, ttl)
    record, evicted = await arun(steps, _aclient())
    SESSIONS_CREATED.labels(kind).inc()
    await _aannounce(evicted, "evicted")
    await _amaybe_sweep()
    return record


def get_session(session_id: str) -> DeviceSession | None:
    """The live device session ``session_id``, or None (unknown, expired, revoked or malformed id)."""
    return run(device_steps.get(session_id), _client())


async def aget_session(session_id: str) -> DeviceSession | None:
    """Async twin of :func:`get_session`."""
    return await arun(device_steps.get(session_id), _aclient())


def list_sessions(user_id: object) -> list[DeviceSession]:
    """The user's live device sessions, most recently active first (costs O(their sessions))."""
    return run(device_steps.list_for_user(user_id), _client())


async def alist_sessions(user_id: object, *, index: list[tuple[bytes, float]] | None = None) -> list[DeviceSession]:
    """Async twin of :func:`list_sessions`; ``index``: the user's index entries already read
    (sessions_app.prefetch, in the JWT revocation round trip)."""
    return await arun(device_steps.list_for_user(user_id, index), _aclient())


def update_session_activity(session_id: str, *, force: bool = False) -> bool:
    """Record activity now; writes at most once per ACTIVITY_UPDATE_INTERVAL per session unless ``force``.

    Also marks the user online for ONLINE_WINDOW. Returns whether anything was written.
    """
    return run(device_steps.touch(session_id, force), _client())


async def aupdate_session_activity(session_id: str, *, force: bool = False) -> bool:
    """Async twin of :func:`update_session_activity`."""
    return await arun(device_steps.touch(session_id, force), _aclient())


def delete_session(session_id: str, *, reason: str = "revoked") -> bool:
    """Delete one device session (a cookie session's data goes with it: that browser is logged out).

    Returns False when there was no such session.
    """
    gone = run(device_steps.delete(session_id), _client())
    _announce(gone, reason)
    return bool(gone)


async def adelete_session(session_id: str, *, reason: str = "revoked") -> bool:
    """Async twin of :func:`delete_session`."""
    gone = await arun(device_steps.delete(session_id), _aclient())
    await _aannounce(gone, reason)
    return bool(gone)


def delete_all_sessions(user_id: object, *, reason: str = "revoked") -> int:
    """Log the user out everywhere: delete all their device sessions; returns how many there were."""
    gone = run(device_steps.delete_all(user_id), _client())
    _announce(gone, reason)
    return len(gone)


async def adelete_all_sessions(user_id: object, *, reason: str = "revoked") -> int:
    """Async twin of :func:`delete_all_sessions`."""
    gone = await arun(device_steps.delete_all(user_id), _aclient())
    await _aannounce(gone, reason)
    return len(gone)


def count_active_sessions() -> int:
    """Live device sessions of all users (from the index buckets: no SCAN)."""
    return run(device_steps.count_active(), _client())


async def acount_active_sessions() -> int:
    """Async twin of :func:`count_active_sessions`."""
    return await arun(device_steps.count_active(), _aclient())


def clear_expired() -> int:
    """Drop expired entries from every index (``clearsessions`` calls this); returns how many."""
    return run(device_steps.sweep(), _client())


async def aclear_expired() -> int:
    """Async twin of :func:`clear_expired`."""
    return await arun(device_steps.sweep(), _aclient())


def browse_sessions(offset: int = 0, limit: int = 100) -> list[DeviceSession]:
    """Live device sessions of all users, paged (for staff tools such as the admin page)."""
    return run(device_steps.browse(offset, limit), _client())


def online_flags(user_ids: list[str]) -> dict[str, bool]:
    """``{user_id: is_user_online(user_id)}`` for several users, in one round trip."""
    return run(presence_steps.online_flags(user_ids), _client())


# --- online status ------------------------------------------------------------------------------------


def is_user_online(user_id: object) -> bool:
    """Whether the user was active within ONLINE_WINDOW or holds a live realtime connection."""
    return run(presence_steps.is_online(user_id), _client())


async def ais_user_online(user_id: object) -> bool:
    """Async twin of :func:`is_user_online`."""
    return await arun(presence_steps.is_online(user_id), _aclient())


def get_online_users(offset: int = 0, limit: int = 50) -> list[str]:
    """Ids (as strings) of online users, most recently active first, paged; ``limit`` at most 1000."""
    return run(presence_steps.online_users(offset, limit), _client())


async def aget_online_users(offset: int = 0, limit: int = 50) -> list[str]:
    """Async twin of :func:`get_online_users`."""
    return await arun(presence_steps.online_users(offset, limit), _aclient())


def count_online_users() -> int:
    """How many users are online now."""
    return run(presence_steps.count_online(), _client())


async def acount_online_users() -> int:
    """Async twin of :func:`count_online_users`."""
    return await arun(presence_steps.count_online(), _aclient())


def last_seen(user_id: object) -> datetime | None:
    """When the user was last active or connected (remembered LAST_SEEN_TTL), or None."""
    return run(presence_steps.last_seen(user_id), _client())


async def alast_seen(user_id: object) -> datetime | None:
    """Async twin of :func:`last_seen`."""
    return await arun(presence_steps.last_seen(user_id), _aclient())


def mark_connection_alive(user_id: object, connection_id: str, ttl: float | None = None) -> None:
    """Presence hook for realtime code: connection ``connection_id`` of the user is open.

    Call it on connect and then every ttl/2 or so (a heartbeat): the user counts as online until
    ``ttl`` seconds (default CONNECTION_TTL) after the last heartbeat of any of their connections,
    so a connection whose disconnect never arrives stops counting by itself.
    """
    run(presence_steps.connection_alive(user_id, connection_id, ttl), _client())


async def amark_connection_alive(user_id: object, connection_id: str, ttl: float | None = None) -> None:
    """Async twin of :func:`mark_connection_alive`."""
    await arun(presence_steps.connection_alive(user_id, connection_id, ttl), _aclient())


def mark_connection_closed(user_id: object, connection_id: str) -> None:
    """Presence hook for realtime code: that connection closed (the user stays online through others)."""
    run(presence_steps.connection_closed(user_id, connection_id), _client())


async def amark_connection_closed(user_id: object, connection_id: str) -> None:
    """Async twin of :func:`mark_connection_closed`."""
    await arun(presence_steps.connection_closed(user_id, connection_id), _aclient())


# --- sharded all-users indexes ------------------------------------------------------------------------


def migrate_indexes(from_buckets: int | None = None) -> dict[str, int]:
    """Move entries into the index buckets: from the pre-sharding single keys, or (``from_buckets``) from
    the buckets of another INDEX_BUCKETS. Returns how many entries each index moved; safe to repeat."""
    from .indexes import INDEXES

    client = _client()
    moved = {}
    for index in INDEXES:
        sources = index.bucket_keys(from_buckets) if from_buckets else [index.legacy_key]
        moved[index.name] = run(device_steps.migrate_index(index, sources), client)
    return moved
