"""Cookie logins become device sessions (django.contrib.auth's ``user_logged_in``).

Logouts need no receiver: ``logout()`` flushes the session, and the store's ``delete`` removes
the device record and sends ``device_session_revoked`` (reason "logout").
"""

from __future__ import annotations

import logging
from typing import Any

from . import keys, services
from .backends.redis import SessionStore
from .devices import client_ip, device_sent_by
from .records import COOKIE

logger = logging.getLogger(__name__)


def register_cookie_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if user is None or not isinstance(session, SessionStore):
        # JWT logins and other session engines register their device sessions themselves.
        return
    if session.user_tag != keys.user_tag(user.pk):
        # The session key must carry the user's tag so its data and the user's index share a
        # Cluster slot; login() just cycled the key before the user was known, so cycle once more.
        session.cycle_key()
    services.create_session(
        user.pk, kind=COOKIE, session_id=session.session_key, ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT"), device=device_sent_by(request),
    )
