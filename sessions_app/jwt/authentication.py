"""DRF authentication: simplejwt's ``JWTAuthentication`` plus one Redis round trip.

``get_validated_token`` is simplejwt's (signature, expiry, type). ``get_user`` replaces the
SQL user lookup by one MGET that answers "is this token, its device session or its user
revoked?" and returns the cached user row (:mod:`.users`); SQL is read only on a cache miss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from redis.exceptions import RedisError
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPE_BYTES, JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from caching_app.foundation.twins import Op, Twin, arun, run

from . import metrics, pipelined, users
from .blacklist import TokenBlacklist, blacklist
from .claims import MalformedClaims, TokenClaims
from .conf import jwt_settings
from .verified import claims_of, verified_tokens

logger = logging.getLogger(__name__)

# Where the middleware leaves (user, token) so DRF does not check the same token twice.
REQUEST_ATTR = "_winkr_jwt_auth"
# Where the async middleware leaves the authenticator (with its pipelined companions) for DRF to run.
PENDING_ATTR = "_winkr_jwt_pending"

# Marked for translation here, translated when raised (AuthenticationFailed takes a str, as DRF renders it at once).
REVOKED_MESSAGES = {
    "token_revoked": gettext_noop("Token has been revoked."),
    "session_revoked": gettext_noop("This device session has been logged out."),
    "user_revoked": gettext_noop("All sessions of this user have been logged out."),
}


class RevocationUnavailable(drf_exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("Token revocation cannot be checked right now; try again shortly.")
    default_code = "revocation_unavailable"

    def __init__(self) -> None:
        # DRF renders only ``detail``: the code goes in the body beside it, wherever this is raised (DRF's
        # authentication in the view's thread, or the middleware), as every other 503 of ours has it.
        super().__init__({"detail": self.default_detail, "code": self.default_code})


def token_claims(token: Token) -> TokenClaims:
    known = claims_of(token)  # worked out when those bytes were first verified (verified.py)
    if known is not None:
        return known
    try:
        return TokenClaims.from_payload(token.payload)
    except MalformedClaims as exc:
        metrics.CHECK_INVALID.inc()
        raise InvalidToken(str(exc)) from exc


def revoked_error(reason: str) -> AuthenticationFailed:
    metrics.CHECK_REVOKED.inc()
    return AuthenticationFailed(_(REVOKED_MESSAGES[reason]), code=reason)


class RedisJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <access>`` checked against the Redis revocation list."""

    blacklist: TokenBlacklist = blacklist
    # Set per request by JWTRevocationMiddleware: user id -> checks sent in the revocation round trip.
    pipelined: Callable[[str], Sequence[Any]] | None = None

    def companions(self, claims: TokenClaims) -> Sequence[Any]:
        return self.pipelined(claims.user_id) if self.pipelined is not None else ()

    def authenticate(self, request: Any) -> tuple[Any, Token] | None:
        django_request = getattr(request, "_request", request)
        done = getattr(django_request, REQUEST_ATTR, None)
        if done is not None:
            return done
        pending = django_request.__dict__.pop(PENDING_ATTR, None)
        if pending is not None:
            return pending.authenticate_pending(request)
        result = super().authenticate(request)
        if result is not None:
            setattr(django_request, REQUEST_ATTR, result)
        return result

    def authenticate_pending(self, request: Any) -> tuple[Any, Token] | None:
        """The check the async middleware prepared; a refused token keeps what its companions took (a
        revoked token counts against its own user's limit), as when the middleware refuses it."""
        django_request = getattr(request, "_request", request)
        try:
            result = super().authenticate(request)
        except drf_exceptions.APIException:
            django_request.__dict__.pop(pipelined.COMPANIONS_ATTR, None)
            raise
        if result is not None:
            setattr(django_request, REQUEST_ATTR, result)
        return result

    async def aauthenticate(self, request: Any) -> tuple[Any, Token] | None:
        """:meth:`authenticate` on the event loop (caching_app.async_views): the same check, with the
        async client, including the middleware's prepared check and its pipelined companions."""
        django_request = getattr(request, "_request", request)
        done = getattr(django_request, REQUEST_ATTR, None)
        if done is not None:
            return done
        pending = django_request.__dict__.pop(PENDING_ATTR, None)
        authentication = pending or self
        header = authentication.get_header(request)
        raw_token = authentication.get_raw_token(header) if header is not None else None
        if raw_token is None:
            return None
        try:
            result = await aauthenticate_raw(raw_token, authentication)
        except drf_exceptions.APIException:
            if pending is not None:  # as authenticate_pending: a refused token keeps what its companions took
                django_request.__dict__.pop(pipelined.COMPANIONS_ATTR, None)
            raise
        setattr(django_request, REQUEST_ATTR, result)
        return result

    def authenticate_header(self, request: Any) -> str:
        """``WWW-Authenticate`` of every 401 (RFC 6750, section 3), so DRF answers 401 rather than 403.

        No credentials: ``Bearer realm="api"`` (no error code, as the RFC asks). A bearer token that
        was sent and refused (``request`` is None when the middleware refuses it):
        ``Bearer realm="api", error="invalid_token"``.
        """
        challenge = super().authenticate_header(request)
        if request is None or self.bearer_sent(request):
            return f'{challenge}, error="invalid_token"'
        return challenge

    def bearer_sent(self, request: Any) -> bool:
        parts = (self.get_header(request) or b"").split()
        return bool(parts) and parts[0] in AUTH_HEADER_TYPE_BYTES

    def get_validated_token(self, raw_token: bytes) -> Token:
        if len(raw_token) > jwt_settings.MAX_TOKEN_BYTES:
            metrics.CHECK_INVALID.inc()
            raise InvalidToken({"detail": _("Token is too long."), "code": "token_not_valid"})
        try:
            return verified_tokens.validated(raw_token, super().get_validated_token)
        except InvalidToken:
            metrics.CHECK_INVALID.inc()
            raise

    def get_user(self, validated_token: Token) -> Any:
        return self.check_user(run(user_op(self, token_claims(validated_token)), NO_CLIENT), validated_token)

    # The steps below are those of user_op, which the sync (get_user) and async (aauthenticate_raw) paths share.
    def revocation_unavailable(self, exc: RedisError) -> None:
        """Redis could not answer: raise (fail closed, the default) or log, count and go on (FAIL_OPEN)."""
        if not jwt_settings.FAIL_OPEN:
            logger.error("Token revocation check failed (fail closed): %r", exc)
            raise RevocationUnavailable() from exc
        logger.warning("Token revocation check failed, letting the request through (FAIL_OPEN): %r", exc)
        metrics.FAIL_OPEN.inc()

    @staticmethod
    def user_from_check(result: Any) -> Any | None:
        """Refuse a revoked token; the cached user row when the check returned one, else None."""
        if result is None:
            return None
        if result.revoked:
            raise revoked_error(result.reason)
        metrics.CHECK_OK.inc()
        if result.user_row in (None, users.TOMBSTONE):
            metrics.USER_MISS.inc()
            return None
        metrics.USER_HIT.inc()
        return users.deserialize(result.user_row)

    @staticmethod
    def should_remember(result: Any, with_user: bool) -> bool:
        # A tombstone (user just saved) or a failed check means: do not cache the row now.
        return with_user and result is not None and result.user_row is None

    def check_user(self, user: Any, validated_token: Token) -> Any:
        """simplejwt's checks on the user row (active flag, password-change revocation)."""
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user


def user_op(auth: RedisJWTAuthentication, claims: TokenClaims) -> Op:
    """The user behind valid ``claims``, or AuthenticationFailed: the one logic of both paths.

    One round trip answers "revoked?" and carries the cached user row (and the pipelined companions);
    SQL is read only on a miss, and the row is cached again unless a tombstone says it just changed.
    Its steps are :class:`~caching_app.foundation.twins.Twin` pairs, so the sync driver (DRF's
    ``get_user``) and the async one (the middleware, WebSockets) run the same decisions.
    """
    with_user = bool(jwt_settings.USER_CACHE_TTL)
    try:
        result = yield Twin(auth.blacklist.check, auth.blacklist.acheck, (claims,),
                            {"with_user": with_user, "companions": auth.companions(claims)})
    except RedisError as exc:
        auth.revocation_unavailable(exc)
        result = None
    user = auth.user_from_check(result)
    if user is not None:
        return user
    try:
        user = yield Twin(users.fetch_user, users.afetch_user, (claims.user_id,))
    except users.UserNotFound as exc:
        raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
    if auth.should_remember(result, with_user):
        try:
            yield Twin(users.remember, users.aremember, (claims.user_id, user))
        except RedisError:
            logger.warning("Could not cache the row of user %s", claims.user_id)
    return user


# user_op's steps are all Twins (each brings its own client): the drivers never need one of theirs.
NO_CLIENT = None


async def aauthenticate_raw(raw_token: bytes | str, authentication: RedisJWTAuthentication | None = None,
                            ) -> tuple[Any, Token]:
    """Async twin of DRF's authenticate for Channels and the middleware: validate ``raw_token``, then
    :func:`user_op` with the async driver."""
    auth = authentication or RedisJWTAuthentication()
    raw = raw_token.encode() if isinstance(raw_token, str) else raw_token
    token = auth.get_validated_token(raw)
    user = await arun(user_op(auth, token_claims(token)), NO_CLIENT)
    return auth.check_user(user, token), token
