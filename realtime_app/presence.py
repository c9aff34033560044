"""Presence from open sockets: one heartbeat entry per connection, each with its own expiry.

A user is online while any of their connections was refreshed within ``PRESENCE_TTL``. There is no
counter to drift: a socket whose disconnect never arrives (a crashed server, a phone that vanished)
simply stops being refreshed and drops out. The backend is pluggable (``PRESENCE_BACKEND``) so
sessions_app, which owns online status, can take the connections over.

Storage: one sorted set per user, member = connection id, score = the connection's expiry (epoch s).
"""

from __future__ import annotations

import time
from typing import Any

from caching_app.connections import get_async_redis, get_redis

from .conf import realtime_settings
from .keys import presence_key


class RedisConnectionPresence:
    """The default presence backend (async for sockets, sync for views and checks)."""

    def _alive_pipeline(self, pipe: Any, user_id: object, connection_id: str, ttl: float) -> None:
        key = presence_key(user_id)
        now = time.time()
        pipe.zadd(key, {connection_id: now + ttl})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, int(ttl) + 1)

    async def aconnection_alive(self, user_id: object, connection_id: str) -> None:
        """Open or refresh one connection."""
        pipe = get_async_redis(realtime_settings.REDIS_ALIAS).pipeline(transaction=True)
        self._alive_pipeline(pipe, user_id, connection_id, float(realtime_settings.PRESENCE_TTL))
        await pipe.execute()

    async def aconnection_closed(self, user_id: object, connection_id: str) -> None:
        key = presence_key(user_id)
        pipe = get_async_redis(realtime_settings.REDIS_ALIAS).pipeline(transaction=True)
        pipe.zrem(key, connection_id)
        pipe.zremrangebyscore(key, "-inf", time.time())
        await pipe.execute()

    def is_online(self, user_id: object) -> bool:
        return self.live_connections(user_id) > 0

    def live_connections(self, user_id: object) -> int:
        return int(get_redis(realtime_settings.REDIS_ALIAS).zcount(presence_key(user_id), time.time(), "+inf"))

    async def alive_connections(self, user_id: object) -> int:
        client = get_async_redis(realtime_settings.REDIS_ALIAS)
        return int(await client.zcount(presence_key(user_id), time.time(), "+inf"))


def presence_backend() -> Any:
    backend = realtime_settings.PRESENCE_BACKEND
    return backend() if isinstance(backend, type) else backend


def is_user_connected(user_id: object) -> bool:
    """Whether ``user_id`` holds at least one live socket (sessions_app folds this into online status)."""
    return presence_backend().is_online(user_id)
