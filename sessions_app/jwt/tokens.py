"""simplejwt token classes carrying the device session id and a precise issue time.

``sid`` ties both tokens of a login to its sessions_app device session, so revoking the
session revokes them. ``iat`` keeps sub-second precision (RFC 7519 NumericDate may be
fractional): "every token issued before T" must not catch a login made in the same
second just after a log-out-everywhere.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from .claims import SESSION_CLAIM


class _PreciseIatMixin:
    payload: dict[str, Any]
    current_time: datetime

    def set_iat(self, claim: str = "iat", at_time: datetime | None = None) -> None:
        at_time = self.current_time if at_time is None else at_time
        # timegm like simplejwt (naive datetimes are UTC there too), plus the milliseconds.
        self.payload[claim] = calendar.timegm(at_time.utctimetuple()) + at_time.microsecond // 1000 / 1000


class SessionAccessToken(_PreciseIatMixin, AccessToken):
    """An access token; ``sid`` is copied from its refresh token."""


# simplejwt's own RefreshToken mixes these two for_user signatures; its annotations disagree, not the code.
class SessionRefreshToken(_PreciseIatMixin, RefreshToken):  # type: ignore[misc]
    access_token_class = SessionAccessToken

    @classmethod
    def for_session(cls, user: Any, session_id: str) -> SessionRefreshToken:
        token = cls.for_user(user)
        assert isinstance(token, cls)  # for_user builds cls (simplejwt annotates its base class)
        token[SESSION_CLAIM] = session_id
        return token

    def rotated(self) -> SessionRefreshToken:
        """A new refresh token with this one's claims (user, sid...) and a fresh jti, iat and exp."""
        new = type(self)()
        for claim, value in self.payload.items():
            if claim not in self.no_copy_claims:
                new[claim] = value
        return new
