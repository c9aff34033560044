"""Response caching for DRF view handlers (``get``, ``list``, ``retrieve``), and :class:`StrictCharField`.

A handler decorator rather than a ``dispatch`` override: it runs after DRF's
``initial()``, so authentication, permissions and throttles still apply to every
request, cached or not. What is cached is ``response.data`` of a 200, not rendered bytes,
so content negotiation still happens per request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .service import API_RESPONSE, CacheService, cache_service, user_group

GroupHook = Callable[..., str | None]


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField turns ``0`` into ``"0"``, so a client's type bug would be stored silently
    (and a body the schema calls invalid would be accepted). Used by every app's request serializers."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _Uncacheable(Exception):  # noqa: N818 - control flow, never seen by callers
    """Carries a non-200 response out of the loader so nothing is stored."""

    def __init__(self, response: Response):
        self.response = response


def response_cache_parts(request: Request, per_user: bool) -> tuple[str, str]:
    """Key parts: the full path with its query string, and whose response it is."""
    if not per_user:
        who = "*"
    elif request.user and request.user.is_authenticated:
        who = f"u{request.user.pk}"
    else:
        who = "anon"
    return request.get_full_path(), who


def cache_response(kind: str = API_RESPONSE, ttl: float | None = None, per_user: bool = True,
                   group: GroupHook | None = None, service: CacheService | None = None) -> Callable:
    """Cache a handler's 200 responses under ``kind``; sets ``X-Cache: HIT|MISS``.

    ``per_user``: the key includes the user (leave it on unless every user gets the same
    body). ``group(view, request, *args, **kwargs)`` returns the invalidation group (default:
    the requesting user's group when ``per_user``, else none).
    """

    def decorator(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            if request.method not in ("GET", "HEAD"):
                return handler(view, request, *args, **kwargs)
            if group is not None:
                group_name = group(view, request, *args, **kwargs)
            elif per_user and request.user.is_authenticated:
                group_name = user_group(request.user.pk)
            else:
                group_name = None
            svc = service or cache_service
            entry = svc.entry(kind, type(view).__qualname__, *response_cache_parts(request, per_user),
                              group=group_name)
            fresh: list[Response] = []

            def load() -> Any:
                response = handler(view, request, *args, **kwargs)
                if response.status_code != 200:
                    raise _Uncacheable(response)
                fresh.append(response)
                return response.data

            try:
                data, from_cache = svc.lookup(entry, load, ttl)
            except _Uncacheable as exc:
                return exc.response
            response = Response(data) if from_cache or not fresh else fresh[0]
            response["X-Cache"] = "HIT" if from_cache else "MISS"
            return response

        return wrapper

    return decorator
