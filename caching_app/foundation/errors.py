"""One answer for "Redis is unavailable" in every DRF view: 503 JSON with a stable code and Retry-After.

Views need not catch ``redis.exceptions.RedisError`` themselves: this exception handler (set as
``REST_FRAMEWORK["EXCEPTION_HANDLER"]``) turns it into :class:`RedisUnavailable`. A view may name what
was unavailable with the class attributes ``redis_unavailable_code`` and ``redis_unavailable_detail``
(as DRF views name their ``throttle_scope``). The connection layer reconnects by itself, so the next
request simply tries again.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class RedisUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("A data store is unavailable; try again shortly.")
    default_code = "service_unavailable"

    def __init__(self, detail: Any = None, code: str | None = None) -> None:
        # DRF renders only ``detail``: the stable code goes into the body next to it.
        super().__init__({"detail": detail or self.default_detail, "code": code or self.default_code})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RedisError):
        view = context.get("view")
        request = context.get("request")
        logger.warning("Redis unavailable during %s %s: %r", getattr(request, "method", "?"),
                       getattr(request, "path", "?"), exc)
        exc = RedisUnavailable(getattr(view, "redis_unavailable_detail", None),
                               getattr(view, "redis_unavailable_code", None))
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, RedisUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if response is not None:
        _use_content_type(response, exc, context)
    return response


def _use_content_type(response: Response, exc: Exception, context: dict[str, Any]) -> None:
    """An exception naming a JSON media type of its own (``application/problem+json``, e.g. the rate
    limiter's 429) gets it, when the client was going to get JSON anyway (not the browsable API)."""
    content_type = getattr(exc, "content_type", None)
    renderer = getattr(context.get("request"), "accepted_renderer", None)
    if content_type and getattr(renderer, "format", None) == "json":
        response.content_type = content_type
