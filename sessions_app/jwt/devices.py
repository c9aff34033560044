"""The JWT side of sessions_app device sessions: one device session per login (``kind="jwt"``).

Its id is the ``sid`` claim of both tokens. Ending it goes through sessions_app, whose
``device_session_revoked`` signal (:mod:`.receivers`) writes the revocation marker; the
functions here also write it themselves, so a logout never depends on a receiver being
connected.
"""

from __future__ import annotations

from typing import Any

from sessions_app import services

from .blacklist import blacklist
from .conf import jwt_settings
from .websocket import notify_revoked, user_group


def start(user: Any, *, ip: str | None, user_agent: str | None, device: dict | None) -> str:
    """Create the device session of a new login; returns its id (the ``sid`` claim)."""
    session = services.create_session(user.pk, kind=jwt_settings.SESSION_KIND, ip=ip, user_agent=user_agent,
                                      device=device or None)
    return session.id


def is_live(session_id: str, user_id: str) -> bool:
    """The device session still exists and belongs to ``user_id`` (refresh checks this)."""
    session = services.get_session(session_id)
    return session is not None and str(session.user_id) == str(user_id)


def touch(session_id: str) -> None:
    services.update_session_activity(session_id)


def end(user_id: object, session_id: str, *, reason: str = "logout") -> None:
    """Log one device out: its tokens die at once, its device session is deleted, its sockets close."""
    blacklist.revoke_session(user_id, session_id)
    services.delete_session(session_id, reason=reason)


def end_all(user_id: object) -> int:
    """Log the user out everywhere: every token (one write), every device and cookie session."""
    blacklist.revoke_user(user_id)
    count = services.delete_all_sessions(user_id, reason="logout")
    notify_revoked([user_group(user_id)], "user_revoked")
    return count
