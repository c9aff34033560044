"""Who may read health details and metrics: staff users, or a caller with the health token."""

from __future__ import annotations

import hmac
from typing import Any, cast

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings

from .conf import health_settings


class HealthToken:
    """``request.auth`` of a caller that presented the configured health token."""

    def __repr__(self) -> str:
        return "<HealthToken>"  # never the token itself


class HealthTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <WINKR_HEALTH["TOKEN"]>``.

    A bearer value that is not the health token is left to the next authenticator (it may
    be a JWT of a staff user), so a wrong token ends as 401 from the permission check.
    """

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, HealthToken] | None:
        expected = health_settings.TOKEN
        parts = get_authorization_header(request).split()
        if not expected or len(parts) != 2 or parts[0].lower() != self.keyword:
            return None
        if not hmac.compare_digest(parts[1], str(expected).encode()):
            return None
        return AnonymousUser(), HealthToken()

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="health"'


class AnonymousOnFailure(BaseAuthentication):
    """The project's ``DEFAULT_AUTHENTICATION_CLASSES``, read per request, where a refusal means anonymous.

    A staff user's valid JWT or session still sees details; an expired, revoked or garbage token (or a
    revocation check that cannot reach Redis) leaves the caller anonymous instead of failing the probe.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        # DRF's settings object imports the dotted paths; its stubs type the raw setting (strings).
        classes = cast("list[type[BaseAuthentication]]", api_settings.DEFAULT_AUTHENTICATION_CLASSES)
        for cls in classes:
            try:
                result = cls().authenticate(request)
            except APIException:
                continue
            if result is not None:
                return result
        return None


class IsStaffOrHealthToken(BasePermission):
    message = "Health details and metrics need a staff user or the health token (Authorization: Bearer ...)."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, HealthToken):
            return True
        user = request.user
        return bool(user and user.is_active and user.is_staff)
