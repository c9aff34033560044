"""``GET /api/ratelimit/status/``: the current client's limits, without counting the request."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from caching_app.async_views import AsyncAPIView

from .client_ip import get_client_ip
from .exceptions import RateLimitUnavailable
from .headers import policy_name
from .limiter import ceil_seconds
from .throttling import RedisRateThrottle

_LIMIT = inline_serializer("RateLimitStatusLimit", {
    "scope": serializers.CharField(), "policy": serializers.CharField(), "limit": serializers.IntegerField(),
    "window": serializers.IntegerField(), "remaining": serializers.IntegerField(),
    "reset_after": serializers.IntegerField(),
})


class RateLimitStatusView(AsyncAPIView):
    """The limits of the default throttles that apply to this client, and what is left of them.

    Not throttled itself, so asking never uses up quota.
    """

    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(responses=inline_serializer("RateLimitStatus", {
        "ip": serializers.CharField(), "user": serializers.CharField(allow_null=True),
        "limits": _LIMIT.__class__(many=True),
    }))
    async def get(self, request: Request) -> Response:  # on the event loop (caching_app.async_views)
        limits: list[dict[str, Any]] = []
        # DRF's settings object imports the dotted paths; its stubs type the raw setting (strings).
        for throttle_class in cast("list[type[BaseThrottle]]", api_settings.DEFAULT_THROTTLE_CLASSES):
            if not issubclass(throttle_class, RedisRateThrottle):
                continue
            try:
                peeked = await throttle_class().apeek(request, self)
            except RedisError as exc:
                msg = "status"
                raise RateLimitUnavailable(msg) from exc
            if peeked is None:
                continue
            scope, decision = peeked
            for result in decision.results:
                limits.append({
                    "scope": scope, "policy": policy_name(scope, result, decision), "limit": result.limit,
                    "window": ceil_seconds(result.window), "remaining": result.remaining,
                    "reset_after": ceil_seconds(result.reset_after),
                })
        user = request.user
        return Response({
            "ip": get_client_ip(request),
            "user": str(user.pk) if user.is_authenticated else None,
            "limits": limits,
        })
