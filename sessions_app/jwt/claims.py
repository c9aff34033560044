"""The claims revocation looks at, checked for type once (a signed token may still carry odd types)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from rest_framework_simplejwt.settings import api_settings

from sessions_app.identity import InvalidUserId, canonical_user_id

SESSION_CLAIM = "sid"


def leeway_seconds() -> float:
    """simplejwt's ``LEEWAY`` (a timedelta or a number of seconds) in seconds."""
    leeway = api_settings.LEEWAY
    return leeway.total_seconds() if hasattr(leeway, "total_seconds") else float(leeway or 0)


class MalformedClaims(ValueError):
    """The token verified but lacks a usable user id, jti, sid or iat."""


@overload
def _text(value: Any, name: str, *, required: Literal[True]) -> str: ...
@overload
def _text(value: Any, name: str, *, required: bool) -> str | None: ...
def _text(value: Any, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "" or len(str(value)) > 255:
        msg = f"Token claim {name!r} is missing or not a short string."
        raise MalformedClaims(msg)
    return str(value)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    jti: str
    sid: str | None
    iat: float
    exp: float | None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TokenClaims:
        iat = payload.get("iat", 0)
        exp = payload.get("exp")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            msg = "Token claim 'iat' is not a number."
            raise MalformedClaims(msg)
        if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
            msg = "Token claim 'exp' is not a number."
            raise MalformedClaims(msg)
        user_id = _text(payload.get(api_settings.USER_ID_CLAIM), api_settings.USER_ID_CLAIM, required=True)
        try:  # every key of the user is built from this text: "01" must not name user 1 with other keys
            user_id = canonical_user_id(user_id, api_settings.USER_ID_FIELD)
        except InvalidUserId as exc:
            msg = f"Token claim {api_settings.USER_ID_CLAIM!r} is not a canonical user id."
            raise MalformedClaims(msg) from exc
        return cls(
            user_id=user_id,
            jti=_text(payload.get(api_settings.JTI_CLAIM), api_settings.JTI_CLAIM, required=True),
            sid=_text(payload.get(SESSION_CLAIM), SESSION_CLAIM, required=False),
            iat=float(iat),
            exp=float(exp) if exp is not None else None,
        )

    def remaining_lifetime(self, now: float | None = None) -> int:
        """Seconds until the token expires, plus simplejwt's leeway (0 when already dead)."""
        if self.exp is None:
            return 0
        remaining = self.exp + leeway_seconds() - (time.time() if now is None else now)
        return max(0, int(remaining) + 1) if remaining > 0 else 0
