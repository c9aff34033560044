"""Access tokens whose signature already verified, kept by their exact bytes (a small LRU).

A client sends the same access token with every request of its life (15 minutes by default),
and checking it again each time was the largest piece of Python on the authenticated hot path:
PyJWT checks every base64 character, computes the HMAC and parses two JSON documents, then
simplejwt checks the claims. The outcome for the same bytes and the same key cannot change,
except where time is involved: so a verified token is kept by its exact bytes, and a later
request with those bytes only repeats the expiry check (with simplejwt's leeway; "nbf" and
"iat" can only become more valid as time passes). An expired token falls through to the full
check, which gives simplejwt's own error. Revocation is still asked of Redis every time.

Each entry also keeps what the hit path would otherwise recompute from the same claims: the moment
the token expires (``exp`` plus the leeway, simplejwt's ``check_exp`` rule) and the claims revocation
reads (:class:`~.claims.TokenClaims`, immutable, so one object serves every request). A copy handed
out carries them (:func:`claims_of`); a view that edits ``request.auth`` edits its own copy only.

Bounded by ``WINKR_JWT["VERIFIED_TOKEN_CACHE_SIZE"]`` (0 turns it off), emptied whenever
``SIMPLE_JWT``, ``WINKR_JWT``, ``AUTH_USER_MODEL`` or ``USE_TZ`` change, and only tokens whose
class keeps simplejwt's own ``verify`` (claims only, no look-ups such as the blacklist app's) are
kept. Only bytes that passed the full check ever enter, so a forged or altered token never matches one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.core.signals import setting_changed
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, datetime_from_epoch

from .claims import MalformedClaims, TokenClaims
from .conf import jwt_settings

# Where a handed-out copy carries its entry's claims (read by claims_of).
CLAIMS_ATTR = "_winkr_claims"


def _checks_are_static(cls: type[Token]) -> bool:
    return cls.verify is Token.verify and cls.check_exp is Token.check_exp


class _Known(NamedTuple):
    token: Token
    expires_at: datetime  # exp + leeway: from then on simplejwt's check_exp refuses it
    claims: TokenClaims | None  # None when the claims are malformed (token_claims then refuses, every time)


def claims_of(token: Token) -> TokenClaims | None:
    """The claims a token handed out by :meth:`VerifiedTokens.validated` carries, if any."""
    return token.__dict__.get(CLAIMS_ATTR)


class VerifiedTokens:
    def __init__(self) -> None:
        self._tokens: OrderedDict[bytes, _Known] = OrderedDict()
        self._lock = threading.Lock()  # requests run in several threads under ASGI and WSGI

    def validated(self, raw_token: bytes, validate: Callable[[bytes], Token]) -> Token:
        """``validate(raw_token)``, or a copy of the token those bytes gave before, still unexpired."""
        size = int(jwt_settings.VERIFIED_TOKEN_CACHE_SIZE or 0)
        if size <= 0:
            return validate(raw_token)
        with self._lock:
            known = self._tokens.get(raw_token)
            if known is not None:
                self._tokens.move_to_end(raw_token)
        if known is not None:
            now = aware_utcnow()
            if now < known.expires_at:
                return _copy(known.token, now, known.claims)
            self.forget(raw_token)  # expired: the full check below gives simplejwt's own error
        token = validate(raw_token)
        if _checks_are_static(type(token)):
            with self._lock:
                self._tokens[raw_token] = _known(_copy(token, token.current_time))
                while len(self._tokens) > size:
                    self._tokens.popitem(last=False)
        return token

    def forget(self, raw_token: bytes) -> None:
        with self._lock:
            self._tokens.pop(raw_token, None)

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._tokens.clear()


def _known(token: Token) -> _Known:
    """The entry of a token that passed the full check (so it has an ``exp``), with its claims."""
    expires_at = datetime_from_epoch(token.payload["exp"]) + token.get_token_backend().get_leeway()
    try:
        claims = TokenClaims.from_payload(token.payload)
    except MalformedClaims:
        claims = None
    return _Known(token, expires_at, claims)


def _copy(token: Token, now: datetime, claims: TokenClaims | None = None) -> Token:
    """A fresh token object per request (views may touch ``request.auth``), with the time of now."""
    fresh = type(token).__new__(type(token))
    fresh.__dict__.update(token.__dict__)
    fresh.payload = dict(token.payload)
    fresh.current_time = now
    if claims is not None:
        fresh.__dict__[CLAIMS_ATTR] = claims
    return fresh


verified_tokens = VerifiedTokens()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SIMPLE_JWT", "WINKR_JWT", "AUTH_USER_MODEL", "USE_TZ"):
        verified_tokens.clear()


setting_changed.connect(_on_setting_changed, weak=False)
