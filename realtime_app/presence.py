"""Presence from open sockets, fed into sessions_app's online status.

Every socket is one connection with its own heartbeat: the consumer marks it alive on connect and
every ``HEARTBEAT_INTERVAL`` seconds with a TTL of ``PRESENCE_TTL``, and closed on disconnect. There
is no counter to drift: a socket whose disconnect never arrives (a crashed server, a phone that
vanished) stops being refreshed and drops out after the TTL; the user is online until the last live
connection closes or expires. sessions_app stores it (``mark_connection_alive``/``closed``); the
backend is a dotted path (``PRESENCE_BACKEND``) for projects that keep presence elsewhere.
"""

from __future__ import annotations

from typing import Any

from .conf import realtime_settings


class SessionsPresence:
    """The default backend: sessions_app's per-connection presence hooks."""

    async def aconnection_alive(self, user_id: object, connection_id: str) -> None:
        from sessions_app import services

        await services.amark_connection_alive(user_id, connection_id, float(realtime_settings.PRESENCE_TTL))

    async def aconnection_closed(self, user_id: object, connection_id: str) -> None:
        from sessions_app import services

        await services.amark_connection_closed(user_id, connection_id)

    def is_online(self, user_id: object) -> bool:
        from sessions_app import services

        return services.is_user_online(user_id)


def presence_backend() -> Any:
    backend = realtime_settings.PRESENCE_BACKEND
    return backend() if isinstance(backend, type) else backend


def is_user_connected(user_id: object) -> bool:
    """Whether ``user_id`` counts as online (their sockets, and whatever else the backend counts)."""
    return presence_backend().is_online(user_id)
