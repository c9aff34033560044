"""``WINKR_JWT`` settings, read at call time through :class:`caching_app.conf.AppSettings`.

Token lifetimes, the signing key and the algorithm stay in simplejwt's ``SIMPLE_JWT``.
"""

from __future__ import annotations

from typing import Any

from caching_app.foundation.settings import AppSettings

DEFAULTS: dict[str, Any] = {
    # Redis alias holding revocation markers and the short-lived user rows (must not be evicted).
    "ALIAS": "state",
    # What to do when Redis cannot be asked whether a token is revoked: False answers 503
    # (fail closed); True lets the request through on signature and expiry alone (logged and counted).
    "FAIL_OPEN": False,
    # Seconds a user row is kept in Redis beside the revocation markers, so the one round trip
    # that checks revocation also returns the user: no SQL query per request. 0 = SQL lookup every time.
    "USER_CACHE_TTL": 60,
    # After a user row changes, refill from SQL is refused this many seconds (closes the race
    # between a request that read the old row and the invalidation).
    "USER_CACHE_TOMBSTONE_TTL": 5,
    # Tokens longer than this are refused before any decoding work.
    "MAX_TOKEN_BYTES": 8192,
    # Access tokens whose signature verified, kept by their exact bytes so a token sent again needs only
    # its expiry checked (sessions_app.jwt.verified); an LRU of this many tokens per process. 0 = off.
    "VERIFIED_TOKEN_CACHE_SIZE": 4096,
    # The sessions_app device-session kind used for JWT logins.
    "SESSION_KIND": "jwt",
    # Throttles of the login endpoint (dotted paths), e.g. ["ratelimit_app.throttling.LoginRateThrottle"];
    # a throttle with a ``release(request)`` classmethod gets its slot back when the password was right.
    "LOGIN_THROTTLE_CLASSES": [],
    # Checks of other apps sent in the revocation round trip (one pipeline, same hash tag), as dotted
    # paths of ``(request, view_func, user_id) -> companion | None`` (see sessions_app.jwt.pipelined),
    # e.g. ["ratelimit_app.prefetch.user_throttle"]. Used by JWTRevocationMiddleware.
    "PIPELINED_CHECKS": [],
    # Sec-WebSocket-Protocol name announcing a token: the client offers ["<this>", "<token>"].
    "WEBSOCKET_SUBPROTOCOL": "bearer",
}

jwt_settings = AppSettings("WINKR_JWT", DEFAULTS, import_strings=("LOGIN_THROTTLE_CLASSES", "PIPELINED_CHECKS"))
