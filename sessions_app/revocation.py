"""One "log out everywhere": the only function that ends every session, token and socket of a user.

Every entry point calls it: ``POST /api/auth/logout-all/``, the admin's "Revoke all of this
user", ``manage.py sessions revoke --all``, ``manage.py revoke_user``, and a user saved with
``is_active=False`` or deleted (admin, shell, another process: the model signals below).
Before it existed they did different things (the admin and the command only deleted
sessions; a JWT or an open socket of the user lived on).
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from . import services
from .identity import canonical_user_id
from .signals import user_logged_out_everywhere

logger = logging.getLogger(__name__)


def log_out_everywhere(user_id: object, *, reason: str = "revoked") -> int:
    """End every device and cookie session of the user, then (receivers) revoke every token and close
    every socket of the user on every instance. Returns how many device sessions were ended.

    Raises :class:`~sessions_app.identity.InvalidUserId` for an id not in canonical form and lets
    ``RedisError`` propagate: callers answer 503 / an error message, never a false "done".
    """
    user_id = canonical_user_id(user_id)
    count = services.delete_all_sessions(user_id, reason=reason)
    user_logged_out_everywhere.send(sender=log_out_everywhere, user_id=user_id, reason=reason)
    return count


def _log_out_quietly(user_id: object, reason: str) -> None:
    try:
        log_out_everywhere(user_id, reason=reason)
    except (RedisError, OSError):  # a Redis outage must not fail the user's save or delete
        logger.exception("Could not log user %s out everywhere (%s); their sessions and tokens still live", user_id,
                         reason)


def on_user_saved(sender: Any, instance: Any, created: bool = False, update_fields: Any = None,
                  **kwargs: Any) -> None:
    """post_save of the user model: a deactivated user is logged out everywhere at once."""
    if created or getattr(instance, "is_active", True) or instance.pk is None:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return  # e.g. update_last_login: is_active did not change in this save
    _log_out_quietly(instance.pk, "deactivated")


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_delete of the user model (the pk is still set): the user is logged out everywhere."""
    if instance.pk is not None:
        _log_out_quietly(instance.pk, "deleted")
