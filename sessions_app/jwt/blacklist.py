"""The token blacklist: which JWTs are revoked, answered in one Redis round trip.

Three kinds of marker, all under one Cluster hash tag per user so a single MGET (or
Lua call) covers them:

- ``jwt:{user}:t:<jti>``: this token is revoked; TTL = its remaining lifetime.
- ``jwt:{user}:s:<sid>``: every token of this device session is revoked; TTL = the
  refresh lifetime (no token of the session can outlive that once no new one is issued).
- ``jwt:{user}:before``: every token of the user issued before this time (epoch seconds,
  fractional) is revoked: "log out everywhere" is one write. Same TTL.

Only token ids are stored, never tokens. Nothing needs sweeping: every marker expires
with the last token it could match. The same tag also holds the short-lived user row
(:mod:`.users`), so the check returns the user too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt as pyjwt
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.keys import SEPARATOR, escape_part, make_key
from caching_app.foundation.scripts import LuaScripts

from . import metrics, pipelined
from .claims import TokenClaims, leeway_seconds
from .conf import jwt_settings

NAMESPACE = "jwt"
JWT_SCRIPTS = LuaScripts(Path(__file__).resolve().parent / "lua")


def user_prefix(user_id: object) -> str:
    """``<prefix>:jwt:{<user>}``: every marker of a user shares this hash tag (one slot on Cluster)."""
    return make_key(NAMESPACE, tag=user_id)


# The builders below equal make_key(NAMESPACE, kind, part, tag=user_id) (a test proves it); they
# escape the user's prefix once per request instead of once per key, which is measurable here.
def token_key(user_id: object, jti: object, *, prefix: str | None = None) -> str:
    return f"{prefix or user_prefix(user_id)}{SEPARATOR}t{SEPARATOR}{escape_part(jti)}"


def session_key(user_id: object, session_id: object, *, prefix: str | None = None) -> str:
    return f"{prefix or user_prefix(user_id)}{SEPARATOR}s{SEPARATOR}{escape_part(session_id)}"


def cutoff_key(user_id: object, *, prefix: str | None = None) -> str:
    return f"{prefix or user_prefix(user_id)}{SEPARATOR}before"


def user_row_key(user_id: object, *, prefix: str | None = None) -> str:
    return f"{prefix or user_prefix(user_id)}{SEPARATOR}user"


def revocation_ttl() -> int:
    """How long session and user markers live: the longest any token can still be valid."""
    return int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds() + leeway_seconds()) + 1


@dataclass(frozen=True, slots=True)
class CheckResult:
    """``reason`` is None when the token is not revoked; ``user_row`` is the cached row (or None)."""

    reason: str | None
    user_row: bytes | str | None = None

    @property
    def revoked(self) -> bool:
        return self.reason is not None


class TokenBlacklist:
    """Revoke tokens, device sessions and users; answer "is this token revoked?".

    Redis errors (``redis.exceptions.RedisError``) propagate: the caller decides between
    503 and fail-open (:mod:`.authentication`). ``token_or_jti`` is a simplejwt ``Token``, an
    encoded JWT (its signature is verified), or a bare jti, which needs ``user_id`` because
    markers are sharded by user.
    """

    def __init__(self, alias: str | None = None):
        self._alias = alias

    @property
    def alias(self) -> str:
        return self._alias or jwt_settings.ALIAS

    @property
    def client(self) -> Any:
        return get_redis(self.alias)

    # -- the original design's operations -------------------------------------------------------
    def add_token(self, token_or_jti: Token | str | bytes, ttl: int | None = None, *,
                  user_id: object | None = None) -> bool:
        """Revoke one token. TTL defaults to its remaining lifetime; False if it is already expired."""
        user, jti, remaining = self._resolve(token_or_jti, user_id)
        ttl = remaining if ttl is None else int(ttl)
        if ttl <= 0:
            return False
        self.client.set(token_key(user, jti), b"1", ex=ttl)
        metrics.REVOCATIONS.labels(scope="token").inc()
        return True

    def is_token_blacklisted(self, token_or_jti: Token | str | bytes, *, user_id: object | None = None) -> bool:
        """For a token: revoked by jti, session or user cut-off. For a bare jti: by jti."""
        payload = self._payload(token_or_jti)
        if payload is None:
            user, jti, _ = self._resolve(token_or_jti, user_id)
            return bool(self.client.exists(token_key(user, jti)))
        return self.check(TokenClaims.from_payload(payload), with_user=False).revoked

    def remove_token(self, token_or_jti: Token | str | bytes, *, user_id: object | None = None) -> bool:
        """Un-revoke one token (its jti marker only). True if a marker was removed."""
        user, jti, _ = self._resolve(token_or_jti, user_id)
        return bool(self.client.delete(token_key(user, jti)))

    # -- sessions and users ---------------------------------------------------------------------
    def revoke_session(self, user_id: object, session_id: object) -> None:
        """Revoke every access and refresh token carrying ``sid == session_id``."""
        self.client.set(session_key(user_id, session_id), b"1", ex=revocation_ttl())
        metrics.REVOCATIONS.labels(scope="session").inc()

    def revoke_user(self, user_id: object, at: float | None = None) -> float:
        """Revoke every token of the user issued before ``at`` (default: now). One write."""
        at = time.time() if at is None else float(at)
        self.client.set(cutoff_key(user_id), repr(at).encode(), ex=revocation_ttl())
        metrics.REVOCATIONS.labels(scope="user").inc()
        return at

    # -- the hot path ---------------------------------------------------------------------------
    @staticmethod
    def check_keys(claims: TokenClaims, *, with_user: bool) -> list[str]:
        prefix = user_prefix(claims.user_id)
        keys = [token_key(None, claims.jti, prefix=prefix), cutoff_key(None, prefix=prefix)]
        if claims.sid is not None:
            keys.append(session_key(None, claims.sid, prefix=prefix))
        if with_user:
            keys.append(user_row_key(None, prefix=prefix))
        return keys

    @staticmethod
    def interpret(claims: TokenClaims, values: list[bytes | str | None], *, with_user: bool) -> CheckResult:
        row = values.pop() if with_user else None
        if values[0] is not None:
            return CheckResult("token_revoked", row)
        if values[1] is not None and claims.iat < float(values[1]):
            return CheckResult("user_revoked", row)
        if len(values) > 2 and values[2] is not None:
            return CheckResult("session_revoked", row)
        return CheckResult(None, row)

    def check(self, claims: TokenClaims, *, with_user: bool = True, companions: Sequence[Any] = ()) -> CheckResult:
        """One MGET: revocation of the token, its session and its user, plus the cached user row.

        ``companions`` (see :mod:`.pipelined`) add their own commands under the same hash tag: then it
        is one pipeline, still one round trip.
        """
        keys = self.check_keys(claims, with_user=with_user)
        if not companions:
            return self.interpret(claims, self.client.mget(keys), with_user=with_user)
        with self.client.pipeline(transaction=False) as pipe:
            counts = pipelined.queue(pipe, keys, companions)
            replies = pipe.execute(raise_on_error=False)
        return self.interpret(claims, pipelined.dispatch(replies, counts, companions), with_user=with_user)

    async def acheck(self, claims: TokenClaims, *, with_user: bool = True, companions: Sequence[Any] = ()
                     ) -> CheckResult:
        client = get_async_redis(self.alias)
        keys = self.check_keys(claims, with_user=with_user)
        if not companions:
            return self.interpret(claims, list(await client.mget(keys)), with_user=with_user)
        async with client.pipeline(transaction=False) as pipe:
            counts = pipelined.queue(pipe, keys, companions)
            replies = await pipe.execute(raise_on_error=False)
        return self.interpret(claims, pipelined.dispatch(replies, counts, companions), with_user=with_user)

    def rotate_refresh(self, claims: TokenClaims) -> str:
        """Accept a refresh token exactly once: ``"ok"``, ``"revoked"`` or ``"reused"`` (see the Lua)."""
        keys = [token_key(claims.user_id, claims.jti),
                session_key(claims.user_id, claims.sid if claims.sid is not None else "-"),
                cutoff_key(claims.user_id)]
        ttl = max(1, claims.remaining_lifetime())
        result = self._rotate_script()(keys=keys, args=[repr(claims.iat), ttl])
        return result.decode() if isinstance(result, bytes) else str(result)

    def _rotate_script(self) -> Any:
        return JWT_SCRIPTS.get(self.client, "rotate_refresh")

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _payload(token_or_jti: Token | str | bytes) -> dict[str, Any] | None:
        """The verified payload of a token, or None for a bare jti. Raises ValueError if unusable."""
        if isinstance(token_or_jti, Token):
            return dict(token_or_jti.payload)
        raw = token_or_jti.decode() if isinstance(token_or_jti, bytes) else str(token_or_jti)
        if raw.count(".") != 2:
            return None
        from rest_framework_simplejwt.state import token_backend

        try:
            # simplejwt annotates a Token here, but decodes the encoded string (as its own Token.__init__ does).
            return token_backend.decode(raw, verify=True)  # type: ignore[arg-type]
        except TokenBackendExpiredToken:
            # Expired tokens need no revocation, but their claims are still read only once the
            # signature is verified (expiry aside), so a forged token can never name a marker.
            try:
                return pyjwt.decode(
                    raw, token_backend.get_verifying_key(raw),  # type: ignore[arg-type]  # a string, as decode above
                    algorithms=[token_backend.algorithm],
                    audience=token_backend.audience, issuer=token_backend.issuer,
                    options={"verify_exp": False, "verify_aud": token_backend.audience is not None},
                )
            except pyjwt.InvalidTokenError as exc:
                msg = "Not a valid token signed by this project."
                raise ValueError(msg) from exc
        except TokenBackendError as exc:
            msg = "Not a valid token signed by this project."
            raise ValueError(msg) from exc

    def _resolve(self, token_or_jti: Token | str | bytes, user_id: object | None) -> tuple[str, str, int]:
        payload = self._payload(token_or_jti)
        if payload is not None:
            claims = TokenClaims.from_payload(payload)
            return claims.user_id, claims.jti, claims.remaining_lifetime()
        if user_id is None:
            msg = "A bare jti needs its user_id: revocation markers are sharded by user."
            raise ValueError(msg)
        jti = token_or_jti.decode() if isinstance(token_or_jti, bytes) else str(token_or_jti)
        if not jti or len(jti) > 255:
            msg = "A jti is a non-empty string of at most 255 characters."
            raise ValueError(msg)
        return str(user_id), jti, revocation_ttl()


blacklist = TokenBlacklist()
