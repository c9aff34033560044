"""Access tokens whose signature already verified, kept by their exact bytes (a small LRU).

A client sends the same access token with every request of its life (15 minutes by default),
and checking it again each time was the largest piece of Python on the authenticated hot path:
PyJWT checks every base64 character, computes the HMAC and parses two JSON documents, then
simplejwt checks the claims. The outcome for the same bytes and the same key cannot change,
except where time is involved: so a verified token is kept by its exact bytes, and a later
request with those bytes only repeats the expiry check (with simplejwt's leeway; "nbf" and
"iat" can only become more valid as time passes). An expired token falls through to the full
check, which gives simplejwt's own error. Revocation is still asked of Redis every time.

Bounded by ``WINKR_JWT["VERIFIED_TOKEN_CACHE_SIZE"]`` (0 turns it off), emptied whenever
``SIMPLE_JWT`` or ``WINKR_JWT`` change, and only tokens whose class keeps simplejwt's own
``verify`` (claims only, no look-ups such as the blacklist app's) are kept. Only bytes that
passed the full check ever enter, so a forged or altered token never matches one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from .conf import jwt_settings


def _checks_are_static(cls: type[Token]) -> bool:
    return cls.verify is Token.verify and cls.check_exp is Token.check_exp


class VerifiedTokens:
    def __init__(self) -> None:
        self._tokens: OrderedDict[bytes, Token] = OrderedDict()
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
            token = _copy(known)
            try:
                token.check_exp()
                return token
            except TokenError:
                self.forget(raw_token)
        token = validate(raw_token)
        if _checks_are_static(type(token)):
            with self._lock:
                self._tokens[raw_token] = _copy(token)
                while len(self._tokens) > size:
                    self._tokens.popitem(last=False)
        return token

    def forget(self, raw_token: bytes) -> None:
        with self._lock:
            self._tokens.pop(raw_token, None)

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._tokens.clear()


def _copy(token: Token) -> Token:
    """A fresh token object per request (views may touch ``request.auth``), with the time of now."""
    fresh = type(token).__new__(type(token))
    fresh.__dict__.update(token.__dict__)
    fresh.payload = dict(token.payload)
    fresh.current_time = aware_utcnow()
    return fresh


verified_tokens = VerifiedTokens()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SIMPLE_JWT", "WINKR_JWT"):
        verified_tokens.clear()


setting_changed.connect(_on_setting_changed, weak=False)
