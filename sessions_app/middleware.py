"""Django's SessionMiddleware, plus throttled activity tracking and a 503 when Redis is down.

Replaces ``django.contrib.sessions.middleware.SessionMiddleware`` in MIDDLEWARE (winkr's
settings do it). On the way out it records activity on the device session (at most once per
ACTIVITY_UPDATE_INTERVAL: the last write's time came with the session load, so requests in
between cost nothing extra), then saves as Django does. A Redis failure while loading (in a
view) or saving becomes a 503 JSON answer instead of a 500; the next request simply tries
again, as the connection layer reconnects by itself.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from caching_app.errors import RETRY_AFTER_SECONDS

from .backends.redis import SessionStore

logger = logging.getLogger(__name__)



def store_unavailable_response() -> JsonResponse:
    response = JsonResponse(
        {"detail": _("The session store is unavailable; try again shortly."), "code": "session_store_unavailable"},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class SessionMiddleware(DjangoSessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session: Any = getattr(request, "session", None)
        try:
            if isinstance(session, SessionStore) and session.activity_due():
                session.record_activity()
            return super().process_response(request, response)
        except RedisError as exc:
            logger.warning("Session store unavailable while finishing %s %s: %r", request.method, request.path, exc)
            return store_unavailable_response()

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RedisError):
            logger.warning("Redis unavailable during %s %s: %r", request.method, request.path, exception)
            return store_unavailable_response()
        return None
