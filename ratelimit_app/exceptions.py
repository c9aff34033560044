"""API errors of the rate limiter: 429 naming the scope and rate, 503 when failing closed."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, Throttled


class RateLimitExceeded(Throttled):
    """429 with ``Retry-After`` and a JSON body saying which limit was hit and for how long.

    DRF's ``Throttled`` only says "Request was throttled"; clients and people debugging
    need the scope and the rate. ``wait`` drives DRF's ``Retry-After`` header.
    """

    def __init__(self, scope: str, rate: str, wait: int):
        self.wait = wait
        message = _("Rate limit {rate} of scope '{scope}' exceeded. Try again in {wait} seconds.").format(
            rate=rate, scope=scope, wait=wait
        )
        APIException.__init__(self, message, "throttled")
        # Set after __init__, which would turn the numbers into strings.
        self.detail = {"detail": self.detail, "code": "throttled", "scope": scope, "rate": rate, "retry_after": wait}


class RateLimitUnavailable(APIException):
    """503 when Redis cannot be reached and the scope fails closed (e.g. login)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "ratelimit_unavailable"

    def __init__(self, scope: str):
        message = _("Rate limiting for '{scope}' is unavailable; the request was refused. Retry shortly.").format(
            scope=scope
        )
        super().__init__({"detail": message, "code": self.default_code, "scope": scope}, self.default_code)
