"""Django middleware: a revoked or invalid bearer token gets a 401 JSON before any view runs.

Runs in ``process_view`` (after URL resolution) so it can leave alone the DRF views that
do not authenticate with JWT at all (login, refresh: simplejwt's own views do the same),
where a stale ``Authorization`` header must not block a client from getting a new token.
The result is kept on the request, so the DRF authentication class does not ask Redis a
second time: still one round trip per request, which also carries the user throttle's check
when ``WINKR_JWT["PIPELINED_CHECKS"]`` names it (:mod:`.pipelined`).

Only JWT-shaped bearer values (``header.payload.signature``) are ours: an opaque bearer token
(the health token, an API key) belongs to whatever view expects it and is left alone; DRF views
that authenticate with JWT still refuse it through the authentication class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from rest_framework.exceptions import APIException
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from . import pipelined
from .authentication import PENDING_ATTR, REQUEST_ATTR, RedisJWTAuthentication, aauthenticate_raw
from .pipelined import COMPANIONS_ATTR


def error_response(exc: APIException, authentication: RedisJWTAuthentication | None = None) -> JsonResponse:
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


def checked_by_drf(view_func: Callable[..., Any]) -> bool:
    """True for a DRF view whose first authentication class is ours: DRF runs it before the view, so the
    check can wait for the view's thread. Any other view (simplejwt's own class, or another class first
    that could authenticate the request without looking at the token) is checked by the middleware."""
    cls = getattr(view_func, "cls", None)
    if cls is None or not issubclass(cls, APIView):
        return False
    classes = getattr(view_func, "initkwargs", {}).get("authentication_classes", cls.authentication_classes)
    return bool(classes) and isinstance(classes[0], type) and issubclass(classes[0], RedisJWTAuthentication)


def uses_jwt(view_func: Callable[..., Any]) -> bool:
    """False for a DRF view whose authentication classes include no JWT class."""
    cls = getattr(view_func, "cls", None)
    if cls is None or not issubclass(cls, APIView):
        return True
    classes = getattr(view_func, "initkwargs", {}).get("authentication_classes", cls.authentication_classes)
    return any(isinstance(c, type) and issubclass(c, JWTAuthentication) for c in classes)


class JWTRevocationMiddleware(MiddlewareMixin):
    """Sync and async, as Django's own middleware: under ASGI nothing here needs a thread.

    In async mode ``process_view`` is a coroutine (Django calls the one found on the instance). For a
    DRF view it only prepares the check, which DRF's authentication runs first thing in the view's own
    thread (Django runs every sync view in one) with the sync client: a redis-py sync pipeline costs
    about a third of the CPU of an asyncio one. Any other view (:func:`checked_by_drf`) is checked right
    here with the async client, on the event loop. The ``WINKR_JWT["PIPELINED_CHECKS"]`` companions (the
    user throttle, the view's cache read) ride in the same pipeline and are finished once the response is
    ready.
    """

    authentication_class: type[RedisJWTAuthentication] = RedisJWTAuthentication
    #: Set by MiddlewareMixin.__init__ (True when get_response is a coroutine function); the stubs omit it.
    async_mode: bool
    #: The hook Django's handler calls after URL resolution, chosen per instance: :meth:`aprocess_view` in
    #: async mode (a coroutine function, which Django awaits on the event loop instead of sending to a
    #: thread), else :meth:`sync_process_view`.
    process_view: Callable[[HttpRequest, Callable[..., Any], Any, Any],
                           HttpResponse | None | Awaitable[HttpResponse | None]]

    def __init__(self, get_response: Callable[..., Any]):
        super().__init__(get_response)
        self.process_view = self.aprocess_view if self.async_mode else self.sync_process_view

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response = self.get_response(request)
        for companion in getattr(request, COMPANIONS_ATTR, ()):
            companion.finish()
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # Async mode: Django handed this middleware an async get_response (the stubs type both kinds).
        response = await self.get_response(request)  # type: ignore[misc]
        for companion in getattr(request, COMPANIONS_ATTR, ()):
            await companion.afinish()
        return response

    def authentication_for(self, request: HttpRequest, view_func: Callable[..., Any]
                           ) -> RedisJWTAuthentication | None:
        """A fresh authenticator when the request carries a JWT-shaped bearer token for a JWT view."""
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header or header.count(".") != 2 or not uses_jwt(view_func):
            return None
        authentication = self.authentication_class()

        def plan(user_id: str) -> list[Any]:
            companions = pipelined.plan(request, view_func, user_id)
            if companions:
                setattr(request, COMPANIONS_ATTR, companions)
            return companions

        authentication.pipelined = plan
        return authentication

    def sync_process_view(self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any,
                          view_kwargs: Any) -> HttpResponse | None:
        authentication = self.authentication_for(request, view_func)
        if authentication is None:
            return None
        try:
            authentication.authenticate(request)
        except APIException as exc:
            return self.refused(request, exc, authentication)
        return None

    async def aprocess_view(self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any,
                            view_kwargs: Any) -> HttpResponse | None:
        authentication = self.authentication_for(request, view_func)
        if authentication is None:
            return None
        try:
            # simplejwt annotates get_header's request as DRF's Request but reads only request.META.
            raw_token = authentication.get_raw_token(authentication.get_header(request))  # type: ignore[arg-type]
            if raw_token is None:  # another scheme than Bearer: DRF decides
                return None
            if checked_by_drf(view_func):  # checked in the view's thread, before the view runs (see the class)
                setattr(request, PENDING_ATTR, authentication)
                return None
            result = await aauthenticate_raw(raw_token, authentication)
        except APIException as exc:
            return self.refused(request, exc, authentication)
        setattr(request, REQUEST_ATTR, result)  # what RedisJWTAuthentication.authenticate would have left
        return None

    @staticmethod
    def refused(request: HttpRequest, exc: APIException, authentication: RedisJWTAuthentication) -> JsonResponse:
        # A refused token keeps what its companions took (a revoked token counts against its own user).
        request.__dict__.pop(COMPANIONS_ATTR, None)
        return error_response(exc, authentication)
