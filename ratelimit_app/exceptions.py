"""API errors of the rate limiter: 429 naming the scope and rate, 503 when failing closed."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, Throttled

from .headers import PROBLEM_JSON, QUOTA_EXCEEDED, QUOTA_EXCEEDED_TITLE


class RateLimitExceeded(Throttled):
    """429 with ``Retry-After`` and a body saying which limit was hit and for how long.

    DRF's ``Throttled`` only says "Request was throttled"; clients and people debugging need the scope
    and the rate. The body is draft-ietf-httpapi-ratelimit-headers-11's ``quota-exceeded`` problem
    (RFC 9457, ``application/problem+json``: ``content_type`` is applied by the project's exception
    handler, caching_app.foundation.errors) naming the violated policies as ``RateLimit-Policy`` does, plus our
    ``code``, ``scope``, ``rate`` and ``retry_after``. ``wait`` drives DRF's ``Retry-After`` header.
    """

    content_type = PROBLEM_JSON

    def __init__(self, scope: str, rate: str, wait: int, violated_policies: list[str] | None = None):
        self.wait = wait
        message = _("Rate limit {rate} of scope '{scope}' exceeded. Try again in {wait} seconds.").format(
            rate=rate, scope=scope, wait=wait
        )
        APIException.__init__(self, message, "throttled")
        # Set after __init__, which would turn the numbers into strings.
        body: dict[str, Any] = {
            "type": QUOTA_EXCEEDED, "title": QUOTA_EXCEEDED_TITLE, "status": self.status_code,
            "detail": self.detail, "violated-policies": violated_policies or [scope],
            "code": "throttled", "scope": scope, "rate": rate, "retry_after": wait,
        }
        self.detail = body  # numbers stay numbers in the JSON body (DRF's renderer takes any JSON)


class RateLimitUnavailable(APIException):
    """503 when Redis cannot be reached and the scope fails closed (e.g. login)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "ratelimit_unavailable"

    def __init__(self, scope: str):
        message = _("Rate limiting for '{scope}' is unavailable; the request was refused. Retry shortly.").format(
            scope=scope
        )
        super().__init__({"detail": message, "code": self.default_code, "scope": scope}, self.default_code)
