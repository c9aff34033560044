"""Errors of the realtime services, each with a stable code shared by sockets and REST."""

from __future__ import annotations

from typing import Any


class RealtimeError(Exception):
    """A refusal a client can act on: ``code`` goes into the error frame or the JSON body."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        body: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.retry_after is not None:
            body["retry_after"] = round(self.retry_after, 3)
        return body


class InvalidInput(RealtimeError):
    code = "invalid"
    status = 400


class RecipientNotFound(RealtimeError):
    code = "recipient_not_found"
    status = 404


class NotAllowed(RealtimeError):
    code = "not_allowed"
    status = 403


class RateLimited(RealtimeError):
    code = "rate_limited"
    status = 429


class Unavailable(RealtimeError):
    """Redis could not be reached: nothing was stored, the client may retry."""

    code = "unavailable"
    status = 503
