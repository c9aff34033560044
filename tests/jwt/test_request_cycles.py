"""A served AsyncAPIView request is freed by reference counting, not left for the garbage collector (issue 15).

DRF links a view, its Request and its Response in reference cycles, and winkr's read-aheads were parked on the
Django request with a reference back to it. Objects in a cycle wait for a collection, with all they hold; under
16 concurrent cached GETs that was about 40 µs of collection per request. Here the project's authenticated,
throttled, cached ``GET /api/profiles/me/`` (a HIT, its throttle and cache read riding in the revocation round
trip) goes through Django's own ASGI handler with the collector off, and nothing it made may be left behind.

The measured request takes the steps every Django's ``ASGIHandler.handle`` takes (build the request, send
``request_started``, get the response, close it), not ``handle`` itself: Django 6.1's ``handle`` ends its
TaskGroup by raising ``RequestProcessed``, whose traceback holds ``handle``'s frame, and so the request and
response, in a cycle of Django's own (ticket #36700). Django 5.2's ``handle`` makes no such cycle here.
"""

from __future__ import annotations

import asyncio
import gc
import io

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.response import Response

from caching_app.async_views import AsyncAPIView
from caching_app.foundation.connections import redis_connections
from caching_app.prefetch import CachePrefetch
from ratelimit_app.prefetch import ThrottlePrefetch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("winkr.urls")]

PROFILE = "/api/profiles/me/"
# Django's own middleware that links its request in a cycle: the lazy user's closure and request.auser
# (AuthenticationMiddleware), the message storages' request (MessageMiddleware). Not winkr's to break.
DJANGOS_CYCLES = ("django.contrib.auth.middleware.AuthenticationMiddleware",
                  "django.contrib.messages.middleware.MessageMiddleware")


def http_scope(path: str, token: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), (b"accept", b"application/json"),
                        (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}


async def serve(handler: ASGIHandler, path: str, token: str) -> tuple[int, str | None]:
    """One request the way ``ASGIHandler.handle`` serves it, less its disconnect-listening TaskGroup: its status
    and X-Cache header, read before Django closes the response."""
    async with ThreadSensitiveContext():
        request, error_response = handler.create_request(http_scope(path, token), io.BytesIO())
        assert error_response is None
        await signals.request_started.asend(sender=ASGIHandler, scope=request.scope)
        response = await handler.run_get_response(request)
        del request
        status, cache = response.status_code, response.headers.get("X-Cache")
        await sync_to_async(response.close)()
        return status, cache


def instances(*types: type) -> dict[int, object]:
    return {id(obj): obj for obj in gc.get_objects() if issubclass(type(obj), types)}  # type(): never a lazy object


def left_by_a_cached_get(token: str, *kinds: type) -> list[str]:
    """What of ``kinds`` one cached GET left behind, with the collector off (after a warm-up GET fills the cache)."""

    async def run() -> list[str]:
        handler = ASGIHandler()
        try:
            assert (await serve(handler, PROFILE, token))[0] == 200
            gc.collect()
            before = instances(*kinds)
            gc.disable()
            try:
                assert await serve(handler, PROFILE, token) == (200, "HIT")
                after = instances(*kinds)
            finally:
                gc.enable()
            return sorted(type(obj).__name__ for key, obj in after.items() if key not in before)
        finally:
            await redis_connections.aclose_loop_clients()

    return asyncio.run(run())


def test_a_served_view_its_request_and_response_are_freed_at_once(user, mint):
    _, access = mint(user)
    assert left_by_a_cached_get(str(access), AsyncAPIView, Request, Response, ThrottlePrefetch, CachePrefetch) == \
        ["CachePrefetch", "ThrottlePrefetch"]  # parked on Django's request, which Django's own cycles hold


def test_without_djangos_cycles_nothing_of_the_request_is_left(user, mint):
    _, access = mint(user)
    middleware = [name for name in settings.MIDDLEWARE if name not in DJANGOS_CYCLES]
    with override_settings(MIDDLEWARE=middleware):
        left = left_by_a_cached_get(str(access), ASGIRequest, AsyncAPIView, Request, Response, ThrottlePrefetch,
                                    CachePrefetch)
    assert left == []
