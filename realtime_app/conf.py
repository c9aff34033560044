"""``WINKR_REALTIME`` settings, read at call time through caching_app's AppSettings."""

from __future__ import annotations

from typing import Any

from caching_app.foundation.settings import AppSettings

REALTIME_DEFAULTS: dict[str, Any] = {
    # Redis alias for chat streams, notification streams and presence: data that must not be evicted.
    "REDIS_ALIAS": "state",
    # Longest chat text, in characters.
    "MAX_TEXT_LENGTH": 2000,
    # Largest WebSocket frame a client may send, in bytes; bigger frames get an error frame.
    "MAX_FRAME_BYTES": 16 * 1024,
    # Messages kept per conversation (XADD MAXLEN ~): older ones need a resync from history.
    "CHAT_STREAM_MAXLEN": 1000,
    # A conversation nobody wrote to for this long is dropped (seconds); refreshed on every message.
    "CHAT_STREAM_TTL": 90 * 86400,
    # Notifications kept per user, and how long an idle notification stream lives (seconds).
    "NOTIFICATION_STREAM_MAXLEN": 200,
    "NOTIFICATION_STREAM_TTL": 30 * 86400,
    # Largest page of REST history / notifications.
    "MAX_PAGE_SIZE": 100,
    # Who may message whom: a callable(sender, recipient) -> bool. The default allows any active user;
    # a project narrows it (e.g. to matched users) by naming its own function here.
    "SEND_POLICY": "realtime_app.policies.allow_active_users",
    # How long a "yes" from the recipient lookup + SEND_POLICY is remembered in-process per (sender, recipient),
    # in seconds, so a conversation does not query the database per message; 0 checks every message.
    # A deactivated user or a withdrawn permission takes effect in other processes within this time.
    "RECIPIENT_CACHE_TTL": 5,
    # How long a chat.message's client_id is remembered, in seconds: a resend with the same client_id
    # within this time gets the original message's ack instead of creating a second message.
    "CLIENT_ID_TTL": 3600,
    # Chat rate limit per sender: this many messages per window (seconds).
    "CHAT_RATE_LIMIT": {"requests": 30, "window": 10},
    # The Channels auth middleware stack wrapped around the WebSocket routes (a callable taking the inner app):
    # sessions_app's JWT stack reads ?token=, the "bearer, <token>" subprotocol, or the session cookie.
    "AUTH_MIDDLEWARE": "sessions_app.jwt.websocket.JWTAuthMiddlewareStack",
    # Presence: the backend, how long one connection counts as alive without a heartbeat, and how often
    # an open socket refreshes it. A process that dies stops refreshing, so its sockets expire.
    "PRESENCE_BACKEND": "realtime_app.presence.SessionsPresence",
    "PRESENCE_TTL": 60,
    "HEARTBEAT_INTERVAL": 20,
    # Replay (chat.sync, notification.sync, ?since=): at most this many messages per sync; a full page ends
    # with "more": true and the client syncs again from its cursor.
    "REPLAY_PAGE_SIZE": 100,
    # Bytes one socket may have queued in the server's write buffer (sent, not yet taken by the client);
    # past it the socket is closed with 4008, so a client that never reads cannot hold the server's memory.
    "MAX_OUTGOING_BYTES": 2 * 1024 * 1024,
    # Client frames per socket (every frame, ping included): a bucket of "frames" refilled over "window"
    # seconds. A frame over it gets a "rate_limited" error frame; ABUSE_LIMIT of those in a row close 4008.
    "FRAME_RATE_LIMIT": {"frames": 60, "window": 10},
    "FRAME_ABUSE_LIMIT": 100,
}

REALTIME_IMPORT_STRINGS = ("SEND_POLICY", "PRESENCE_BACKEND", "AUTH_MIDDLEWARE")

realtime_settings = AppSettings("WINKR_REALTIME", REALTIME_DEFAULTS, REALTIME_IMPORT_STRINGS)
