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

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.exceptions import RedisError

from caching_app.foundation.errors import RETRY_AFTER_SECONDS

from .backends.redis import SessionStore
from .views import SessionStoreAPIView

logger = logging.getLogger(__name__)


def store_unavailable_response() -> JsonResponse:
    view = SessionStoreAPIView  # the one wording of this answer, as the session views give it
    response = JsonResponse({"detail": str(view.redis_unavailable_detail), "code": view.redis_unavailable_code},
                            status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class SessionMiddleware(DjangoSessionMiddleware):
    """Under ASGI, a request whose session needs no write costs no thread hop.

    Django's MiddlewareMixin runs ``process_request`` and ``process_response`` in a thread each in
    async mode. Here ``process_request`` (a lazy store, no I/O) runs on the event loop, and so does
    ``process_response`` unless it will write to Redis (a modified session, SESSION_SAVE_EVERY_REQUEST,
    activity due): API requests authenticated by JWT never touch the session at all.
    """

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self.process_request(request)
        # async_capable: Django hands this middleware an async get_response (the stubs type both kinds).
        response = await self.get_response(request)  # type: ignore[misc]
        if self.writes(request):
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return self.process_response(request, response)

    @staticmethod
    def writes(request: HttpRequest) -> bool:
        """Whether finishing this request may write to the session store (decided without I/O)."""
        session: Any = getattr(request, "session", None)
        if session is None:
            return False
        if isinstance(session, SessionStore) and session.activity_due():
            return True
        return bool(session.modified or settings.SESSION_SAVE_EVERY_REQUEST) and not session.is_empty()

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
