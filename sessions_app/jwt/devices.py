"""The JWT side of sessions_app device sessions: one device session per login (``kind="jwt"``).

Its id is the ``sid`` claim of both tokens. Ending it goes through sessions_app, whose
``device_session_revoked`` signal (:mod:`.receivers`) writes the revocation marker; :func:`end`
also writes it itself, so a logout never depends on a receiver being connected. Logging out
everywhere is sessions_app's one function (:mod:`sessions_app.revocation`); its
``user_logged_out_everywhere`` signal writes the user's cut-off and closes the sockets here.
"""

from __future__ import annotations

from typing import Any

from sessions_app import services
from sessions_app.revocation import log_out_everywhere

from .blacklist import blacklist
from .conf import jwt_settings


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
    """Log the user out everywhere (the user asked): :func:`sessions_app.revocation.log_out_everywhere`."""
    return log_out_everywhere(user_id, reason="logout")
