"""Django middleware: a revoked or invalid bearer token gets a 401 JSON before any view runs.

Runs in ``process_view`` (after URL resolution) so it can leave alone the DRF views that
do not authenticate with JWT at all (login, refresh: simplejwt's own views do the same),
where a stale ``Authorization`` header must not block a client from getting a new token.
The result is kept on the request, so the DRF authentication class does not ask Redis a
second time: still one round trip per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from rest_framework.exceptions import APIException
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from .authentication import RedisJWTAuthentication


def error_response(exc: APIException, authentication: JWTAuthentication | None = None) -> JsonResponse:
    """The JSON DRF would send for ``exc`` (``{"detail": ..., "code": ...}``), with WWW-Authenticate on 401."""
    detail = exc.detail
    if isinstance(detail, dict):
        body = {key: (str(value) if not isinstance(value, list | dict) else value) for key, value in detail.items()}
    else:
        body = {"detail": str(detail), "code": getattr(detail, "code", None) or exc.default_code}
    response = JsonResponse(body, status=exc.status_code)
    if exc.status_code == 401 and authentication is not None:
        response["WWW-Authenticate"] = authentication.authenticate_header(None)
    return response


def uses_jwt(view_func: Callable[..., Any]) -> bool:
    """False for a DRF view whose authentication classes include no JWT class."""
    cls = getattr(view_func, "cls", None)
    if cls is None or not issubclass(cls, APIView):
        return True
    classes = getattr(view_func, "initkwargs", {}).get("authentication_classes", cls.authentication_classes)
    return any(isinstance(c, type) and issubclass(c, JWTAuthentication) for c in classes)


class JWTRevocationMiddleware(MiddlewareMixin):
    authentication_class: type[RedisJWTAuthentication] = RedisJWTAuthentication

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any,
                     view_kwargs: Any) -> HttpResponse | None:
        if "HTTP_AUTHORIZATION" not in request.META or not uses_jwt(view_func):
            return None
        authentication = self.authentication_class()
        try:
            authentication.authenticate(request)
        except APIException as exc:
            return error_response(exc, authentication)
        return None
