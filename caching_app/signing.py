"""A django-redis serializer that pickles, signs what it writes and unpickles only what it signed.

Django's cache framework stores whatever a view hands it: ``HttpResponse`` objects
(``cache_page``, ``CacheMiddleware``), template fragments, model instances, bytes. JSON cannot
hold those (django-redis' ``JSONSerializer`` raises ``TypeError`` in the view), so pickle it
is. But plain pickle (django-redis' default) turns "can write to Redis" into "can run code in
every Django process": ``pickle.loads`` of planted bytes calls whatever ``__reduce__`` names.

So every payload is ``VERSION byte + HMAC-SHA256(key, VERSION + pickle) + pickle``, and
:meth:`SignedPickleSerializer.loads` checks the MAC with :func:`hmac.compare_digest` against
the current key and each fallback *before* ``pickle.loads`` sees a byte. A missing or wrong
signature raises :class:`UntrustedPayload`; :class:`caching_app.django_cache.SignedClient`
turns it into a miss (logged and counted), so a view never sees it.

Keys come from ``WINKR_CACHING["SIGNING_KEY"]`` (default: ``SECRET_KEY``) and
``["SIGNING_KEY_FALLBACKS"]`` (default: ``SECRET_KEY_FALLBACKS``), read at call time, each
derived with a salted HMAC so the cache never signs with the raw secret that also signs
cookies and tokens. Rotating: put the new key first and the old one in the fallbacks; entries
signed with the old key stay readable until they expire.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_redis.serializers.pickle import PickleSerializer

from .conf import caching_settings

VERSION = b"\x01"
MAC_SIZE = hashlib.sha256().digest_size
SALT = b"winkr.caching.signing.SignedPickleSerializer"


class UntrustedPayload(ValueError):
    """Bytes from the cache that this process did not sign: never unpickled."""

    def __init__(self, reason: str):
        super().__init__(f"cache payload refused: {reason} signature")
        self.reason = reason


@lru_cache(maxsize=32)
def derive_key(secret: str | bytes) -> bytes:
    """The cache signing key for ``secret``: HMAC-SHA256(secret, SALT), a key of its own."""
    raw = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
    return hmac.new(raw, SALT, hashlib.sha256).digest()


def signing_secrets() -> tuple[list[str | bytes], list[str | bytes]]:
    """``(current, fallbacks)``: the secret that signs new entries, and those also accepted."""
    explicit = caching_settings.SIGNING_KEY
    fallbacks = caching_settings.SIGNING_KEY_FALLBACKS
    if fallbacks is None:
        fallbacks = [] if explicit else list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    current = explicit or settings.SECRET_KEY
    if not isinstance(current, str | bytes):
        msg = "WINKR_CACHING['SIGNING_KEY'] must be a string or bytes."
        raise ImproperlyConfigured(msg)
    return [current], list(fallbacks)


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, VERSION + body, hashlib.sha256).digest()


def sign(body: bytes) -> bytes:
    [current], _ = signing_secrets()
    return VERSION + _mac(derive_key(current), body) + body


def verify(payload: bytes) -> bytes:
    """The signed body of ``payload``; :class:`UntrustedPayload` unless a known key signed it."""
    if not isinstance(payload, bytes | bytearray | memoryview) or len(payload) <= 1 + MAC_SIZE:
        msg = "missing"
        raise UntrustedPayload(msg)
    payload = bytes(payload)
    if payload[:1] != VERSION:
        msg = "missing"
        raise UntrustedPayload(msg)
    mac, body = payload[1:1 + MAC_SIZE], payload[1 + MAC_SIZE:]
    current, fallbacks = signing_secrets()
    for secret in (*current, *fallbacks):
        if hmac.compare_digest(mac, _mac(derive_key(secret), body)):
            return body
    msg = "bad"
    raise UntrustedPayload(msg)


class SignedPickleSerializer(PickleSerializer):
    """``OPTIONS["SERIALIZER"]`` for django-redis: pickle (``PICKLE_VERSION`` honoured), signed."""

    def dumps(self, value: Any) -> bytes:
        return sign(super().dumps(value))

    def loads(self, value: bytes) -> Any:
        return super().loads(verify(value))  # verify first: nothing unsigned reaches pickle
