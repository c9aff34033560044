"""REST endpoints: my device sessions, revoking one, and a user's presence."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching_app.async_views import AsyncAPIView

from . import prefetch, services, visibility
from .jwt.claims import SESSION_CLAIM
from .serializers import DeviceSessionSerializer, MyPresenceSerializer, PresenceSerializer, PresenceSettingsSerializer

logger = logging.getLogger(__name__)


class SessionStoreAPIView(APIView):
    """A Redis failure answers 503 JSON through caching_app.foundation.errors.exception_handler."""

    redis_unavailable_code = "session_store_unavailable"
    redis_unavailable_detail = _("The session store is unavailable; try again shortly.")


def current_session_id(request: Request) -> str | None:
    """The device session making this request: the JWT's session claim, else the session cookie's key."""
    explicit = getattr(request, "device_session_id", None)
    if explicit:
        return str(explicit)
    auth: Any = getattr(request, "auth", None)
    payload = getattr(auth, "payload", None)
    if payload is None and isinstance(auth, dict):
        payload = auth
    if isinstance(payload, dict) and payload.get(SESSION_CLAIM):
        return str(payload[SESSION_CLAIM])
    session = getattr(request, "session", None)
    return getattr(session, "session_key", None)


def _session_json(record: services.DeviceSession, current: str | None) -> dict:
    return {**record.as_dict(), "current": record.id == current}


class SessionListView(AsyncAPIView, SessionStoreAPIView):
    """``GET /api/sessions/``: the devices I am logged in on; ``current`` marks this one."""

    @extend_schema(responses=DeviceSessionSerializer(many=True))
    async def get(self, request: Request) -> Response:  # on the event loop (caching_app.async_views)
        current = current_session_id(request)
        records = await services.alist_sessions(request.user.pk, index=prefetch.take(request, request.user.pk))
        return Response([_session_json(record, current) for record in records])


class SessionDetailView(SessionStoreAPIView):
    """``DELETE /api/sessions/{id}/``: log one of my devices out (404 for any id that is not mine)."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, session_id: str) -> Response:
        record = services.get_session(session_id)
        # The same 404 for "no such session" and "someone else's": never confirm that an id exists.
        if record is None or record.user_id != str(request.user.pk):
            raise NotFound(_("No such session."), code="session_not_found")
        services.delete_session(session_id, reason="revoked")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PresenceView(SessionStoreAPIView):
    """``GET /api/users/{id}/presence/``: ``{"online": bool, "last_seen": iso8601|null}``.

    Another user's view (:func:`sessions_app.visibility.presence_for`): ``last_seen`` rounded down to
    ``LAST_SEEN_PRECISION``, and offline with no ``last_seen`` when they hide their status.
    """

    @extend_schema(responses=PresenceSerializer)
    def get(self, request: Request, user_id: str) -> Response:
        try:
            pk = get_user_model()._default_manager.filter(pk=user_id).values_list("pk", flat=True).first()
        except (ValueError, TypeError, ValidationError):
            pk = None
        if pk is None:
            raise NotFound(_("No such user."), code="user_not_found")
        return Response(visibility.presence_for(request.user.pk, pk))


class MyPresenceView(SessionStoreAPIView):
    """``GET /api/users/me/presence/``: my exact presence and ``hidden``; ``PATCH {"hidden": bool}``: hide my
    online status from everyone else (they see me offline, with no last_seen)."""

    @extend_schema(responses=MyPresenceSerializer)
    def get(self, request: Request) -> Response:
        return Response(visibility.presence_for(request.user.pk, request.user.pk))

    @extend_schema(request=PresenceSettingsSerializer, responses=MyPresenceSerializer)
    def patch(self, request: Request) -> Response:
        settings = PresenceSettingsSerializer(data=request.data, partial=True)  # PATCH: absent fields stay
        settings.is_valid(raise_exception=True)
        if "hidden" in settings.validated_data:
            visibility.set_presence_hidden(request.user.pk, settings.validated_data["hidden"])
        return Response(visibility.presence_for(request.user.pk, request.user.pk))
