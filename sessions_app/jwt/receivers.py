"""Signal receivers, connected in ``JWTConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from .blacklist import blacklist
from .conf import jwt_settings
from .users import on_user_changed
from .websocket import notify_revoked, session_group, user_group


def on_device_session_revoked(sender: Any, *, session_id: str, user_id: str, kind: str, **kwargs: Any) -> None:
    """A device session was deleted, revoked or evicted: kill its tokens and close its sockets.

    A Redis error propagates: the revocation must not be reported as done when it is not.
    """
    if kind == jwt_settings.SESSION_KIND:
        blacklist.revoke_session(user_id, session_id)
    notify_revoked([session_group(session_id)], kwargs.get("reason") or "revoked")


def on_user_logged_out_everywhere(sender: Any, *, user_id: str, reason: str, **kwargs: Any) -> None:
    """Every token of the user issued so far dies (one write), and every socket of the user closes
    with 4401 on every instance (the user group, joined by JWT and cookie sockets alike)."""
    blacklist.revoke_user(user_id)
    notify_revoked([user_group(user_id)], "user_revoked")


def connect() -> None:
    from sessions_app.signals import device_session_revoked, user_logged_out_everywhere

    device_session_revoked.connect(on_device_session_revoked, dispatch_uid="winkr_jwt.device_session_revoked")
    user_logged_out_everywhere.connect(on_user_logged_out_everywhere,
                                       dispatch_uid="winkr_jwt.user_logged_out_everywhere")
    user_model = get_user_model()
    post_save.connect(on_user_changed, sender=user_model, dispatch_uid="winkr_jwt.user_saved")
    post_delete.connect(on_user_changed, sender=user_model, dispatch_uid="winkr_jwt.user_deleted")
