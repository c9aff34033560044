"""A served AsyncAPIView request is freed by reference counting, not left for the garbage collector (issue 15).

DRF links a view, its Request and its Response in reference cycles, and winkr's read-aheads were parked on the
Django request with a reference back to it. Objects in a cycle wait for a collection, with all they hold; under
16 concurrent cached GETs that was about 40 µs of collection per request. Here the project's authenticated,
throttled, cached ``GET /api/profiles/me/`` (a HIT, its throttle and cache read riding in the revocation round
trip) goes through Django's own ASGI handler with the collector off, and nothing it made may be left behind.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from django.conf import settings
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


async def serve(handler: ASGIHandler, path: str, token: str) -> tuple[int, dict[bytes, bytes]]:
    """One request through Django's ASGI handler: its status and headers."""
    messages: list[dict] = []
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the handler is done
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)

    await handler(http_scope(path, token), receive, send)
    start = next(message for message in messages if message["type"] == "http.response.start")
    return start["status"], {name.lower(): value for name, value in start["headers"]}


def instances(*types: type) -> dict[int, object]:
    return {id(obj): obj for obj in gc.get_objects() if issubclass(type(obj), types)}  # type(): never a lazy object


def left_by_a_cached_get(token: str, *kinds: type) -> list[str]:
    """What of ``kinds`` one cached GET left behind, with the collector off (after a warm-up GET fills the cache)."""

    async def run() -> list[str]:
        handler = ASGIHandler()
        try:
            status, _ = await serve(handler, PROFILE, token)
            assert status == 200
            gc.collect()
            before = instances(*kinds)
            gc.disable()
            try:
                status, headers = await serve(handler, PROFILE, token)
                assert (status, headers[b"x-cache"]) == (200, b"HIT")
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
