"""sessions_app settings: ``WINKR_SESSIONS`` in Django settings, with these defaults.

Read at call time through :data:`sessions_settings`, so ``override_settings`` reaches them.
"""

from __future__ import annotations

from typing import Any

from caching_app.foundation.settings import AppSettings

DEFAULTS: dict[str, Any] = {
    # Lifetime of a device session in seconds (cookie sessions follow SESSION_COOKIE_AGE / set_expiry).
    "SESSION_TTL": 14 * 86400,
    # Lifetime of a JWT device session, refreshed on activity; None means SESSION_TTL.
    "JWT_SESSION_TTL": None,
    # Seconds between opportunistic sweeps of expired index entries (clearsessions does a full one).
    "CLEANUP_INTERVAL": 3600,
    # Device sessions per user; the oldest is evicted at login. 0 disables the limit.
    "MAX_SESSIONS_PER_USER": 10,
    # A user is online while their last activity is younger than this (seconds) or a socket is open.
    "ONLINE_WINDOW": 5 * 60,
    # last_activity is written at most once per this many seconds per session, not on every request.
    "ACTIVITY_UPDATE_INTERVAL": 60,
    # How long last_seen is remembered after the user's last activity.
    "LAST_SEEN_TTL": 30 * 86400,
    # Another user reads last_seen rounded down to this many seconds (a dating app must not publish a
    # user's activity to the millisecond); the user themselves read it exact. 0 disables the rounding.
    "LAST_SEEN_PRECISION": 5 * 60,
    # Default heartbeat TTL of a realtime connection (mark_connection_alive).
    "CONNECTION_TTL": 60,
    # Redis alias holding sessions and presence: data that must never be evicted.
    "REDIS_ALIAS": "state",
    # Request headers a client may send to describe its device (overriding what the User-Agent says).
    "DEVICE_HEADERS": {
        "device_id": "HTTP_X_DEVICE_ID",
        "device_type": "HTTP_X_DEVICE_TYPE",
        "os": "HTTP_X_DEVICE_OS",
        "browser": "HTTP_X_DEVICE_BROWSER",
        "location": "HTTP_X_DEVICE_LOCATION",
    },
    # Admin changelist page size.
    "ADMIN_PAGE_SIZE": 100,
    # Buckets (sorted sets with a Cluster hash tag each) of the all-sessions and online-users indexes,
    # 1..256: enough that no master holds much more than its share. Changing it on a live deployment
    # needs `manage.py sessions migrate-indexes --from-buckets OLD`.
    "INDEX_BUCKETS": 16,
}

POSITIVE_INTS = ("SESSION_TTL", "CLEANUP_INTERVAL", "ONLINE_WINDOW", "LAST_SEEN_TTL", "CONNECTION_TTL",
                 "ADMIN_PAGE_SIZE")
NON_NEGATIVE_INTS = ("MAX_SESSIONS_PER_USER", "ACTIVITY_UPDATE_INTERVAL", "LAST_SEEN_PRECISION")

sessions_settings = AppSettings("WINKR_SESSIONS", DEFAULTS)


def jwt_session_ttl() -> int:
    return int(sessions_settings.JWT_SESSION_TTL or sessions_settings.SESSION_TTL)
