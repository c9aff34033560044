"""DRF's ``APIView`` with its checks, its handler and its JSON rendering on the event loop.

Under ASGI, Django runs a sync view in a worker thread and then renders DRF's ``Response`` in
another (``BaseHandler._get_response_async``): two thread hops per request, each a future, a
context copy and two thread wake-ups, about 120 µs of CPU each on our 2-core machines, as much as
the Redis work of an authenticated, throttled, cached GET. :class:`AsyncAPIView` makes neither hop.

Written here because adrf's ``APIView`` (the async DRF package on PyPI) still runs ``initial()`` in a
thread and calls async authenticators and throttles through ``async_to_sync``: more hops, not fewer.

What runs where:

- an authenticator with ``aauthenticate``, a permission with ``ahas_permission`` and a throttle with
  ``aallow_request`` are awaited on the loop (winkr's JWT authentication and Redis throttles have
  them, and take the same decisions as their sync methods); DRF's permissions that read only the user
  (:data:`LOOP_SAFE_PERMISSIONS`) run inline; anything else runs in a thread, as DRF would run it;
- the handlers (``get``, ``patch``, ...) are coroutines (Django requires all of a view's handlers to
  be of one kind); DRF's sync ``options`` runs in a thread;
- content negotiation is DRF's, remembered per Accept header and format (:mod:`.negotiation`);
- a JSON response is rendered on the loop and handed to Django already rendered; any other renderer
  (the browsable API renders templates and may read the database) is left to Django's thread;
- once Django has closed the response, the view lets go of its Request and Response
  (:meth:`AsyncAPIView.release_cycles`), so reference counting frees them instead of the garbage collector.
"""

from __future__ import annotations

from collections.abc import Awaitable
from inspect import isawaitable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseBase
from rest_framework import exceptions
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .foundation.connections import redis_connections
from .negotiation import negotiate

#: Permissions that read nothing but ``request.user`` and the method: checked inline on the loop.
LOOP_SAFE_PERMISSIONS = (AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly, IsAdminUser)


class AsyncAPIView(APIView):
    """An ``APIView`` whose handlers are ``async def``; see the module docstring for what runs where."""

    async def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        # DRF's dispatch, with initial() and the handler awaited.
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            await self.ainitial(drf_request, *args, **kwargs)
            method = (drf_request.method or "").lower()
            handler = getattr(self, method, self.http_method_not_allowed) if method in self.http_method_names \
                else self.http_method_not_allowed
            response = await self.call_handler(handler, drf_request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - DRF's dispatch hands every exception to handle_exception
            response = self.handle_exception(exc)
        # DRF's stubs type finalize_response's argument as Response; DRF itself takes any HttpResponseBase.
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)  # type: ignore[arg-type]
        # Django calls a response's closers when it closes it, after the last byte is sent (the test client too,
        # before it returns the response); it has no public hook for this. Django clears the list after the call.
        self.response._resource_closers.append(self.release_cycles)  # type: ignore[attr-defined]
        if not isinstance(request, ASGIRequest):
            # Django's sync handler (WSGI, the test client) runs this view in an event loop of its own, which
            # ends with the request: so do the Redis clients made in it.
            await redis_connections.aclose_loop_clients()
        return render_on_loop(self.response)

    def release_cycles(self) -> None:
        """Break the reference cycles a DRF view leaves, once its response is closed.

        DRF links the view, its ``Request`` and its ``Response`` in circles (``view.request`` and the
        request's ``parser_context["view"]``, ``view.response`` and the response's ``renderer_context``,
        each context naming its own owner) and Django's ``View.setup`` sets ``view.head = view.get``. Objects
        in a circle wait for the garbage collector, with everything they hold (the response's data, the
        authenticators, the throttles): under 16 concurrent cached GETs that was about 40 µs of collection
        per request (issue 15). The response keeps its ``renderer_context`` and the request its
        ``parser_context``, less the entry naming itself.
        """
        attributes = self.__dict__
        request, response = attributes.pop("request", None), attributes.pop("response", None)
        if getattr(attributes.get("head"), "__self__", None) is self:  # View.setup's bound get, not a handler
            del attributes["head"]
        parser_context = getattr(request, "parser_context", None)
        if isinstance(parser_context, dict):
            parser_context.pop("request", None)
        renderer_context = getattr(response, "renderer_context", None)
        if isinstance(renderer_context, dict):
            renderer_context.pop("response", None)

    @staticmethod
    async def call_handler(handler: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        result = handler(request, *args, **kwargs)  # a coroutine, or (DRF's options) a sync handler's response
        if isawaitable(result):
            return await result
        # A sync handler (DRF's options) already ran; a real one would have been refused by Django.
        return result

    async def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        """DRF's metadata response, in a thread: the metadata class may inspect serializers and querysets."""
        return await sync_to_async(super().options)(request, *args, **kwargs)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        """DRF's negotiation, remembered per Accept header and format (:mod:`caching_app.negotiation`)."""
        return negotiate(self, request, force)

    async def ainitial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """DRF's ``initial()``, with the three checks awaited."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        await self.aperform_authentication(request)
        await self.acheck_permissions(request)
        await self.acheck_throttles(request)

    async def aperform_authentication(self, request: Request) -> None:
        """DRF's ``Request._authenticate``, awaiting each authenticator."""
        drf_request: Any = request  # Request's private steps, which its stubs omit
        for authenticator in request.authenticators or ():
            try:
                user_auth_tuple = await _call(authenticator, "aauthenticate", "authenticate", request)
            except exceptions.APIException:
                drf_request._not_authenticated()  # DRF's own step, as Request._authenticate takes it
                raise
            if user_auth_tuple is not None:
                drf_request._authenticator = authenticator
                request.user, request.auth = user_auth_tuple
                return
        drf_request._not_authenticated()

    async def acheck_permissions(self, request: Request) -> None:
        """DRF's ``check_permissions``."""
        for permission in self.get_permissions():
            if type(permission) in LOOP_SAFE_PERMISSIONS:
                allowed = permission.has_permission(request, self)
            else:
                allowed = await _call(permission, "ahas_permission", "has_permission", request, self)
            if not allowed:
                self.permission_denied(request, message=getattr(permission, "message", None),
                                       code=getattr(permission, "code", None))

    async def acheck_throttles(self, request: Request) -> None:
        """DRF's ``check_throttles``."""
        durations = []
        for throttle in self.get_throttles():
            if not await _call(throttle, "aallow_request", "allow_request", request, self):
                durations.append(throttle.wait())
        if durations:
            # DRF passes None when no throttle knows how long (its stubs say float).
            self.throttled(request, max((d for d in durations if d is not None), default=None))  # type: ignore[arg-type]


def _call(obj: Any, async_name: str, sync_name: str, *args: Any) -> Awaitable[Any]:
    """``obj``'s async method when it has one, else its sync method in a thread (thread-sensitive, as
    Django runs a sync view)."""
    method = getattr(obj, async_name, None)
    if method is not None:
        return method(*args)
    return sync_to_async(getattr(obj, sync_name))(*args)


def render_on_loop(response: HttpResponseBase) -> HttpResponseBase:
    """Render a JSON ``Response`` now, and hand it to Django as a response that needs no rendering.

    Django renders any response whose ``render`` is callable, in a thread under ASGI; one whose ``render``
    is not callable is sent as it is, by the sync handler (the test client) too. JSON rendering reads
    neither templates nor the database. Other renderers keep Django's deferred rendering.
    """
    if isinstance(response, Response) and isinstance(getattr(response, "accepted_renderer", None), JSONRenderer):
        response.render()
        response.render = None  # type: ignore[assignment,method-assign]
    return response
