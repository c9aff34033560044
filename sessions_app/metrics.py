"""sessions_app's prometheus metrics (default registry; health_app exports them)."""

from prometheus_client import Counter

SESSIONS_CREATED = Counter("winkr_sessions_created", "Device sessions created, per kind.", ["kind"])
SESSIONS_DELETED = Counter(
    "winkr_sessions_deleted", "Device sessions deleted, per kind and reason (logout, revoked, evicted).",
    ["kind", "reason"],
)
STORE_ERRORS = Counter("winkr_sessions_store_errors", "Session store operations that failed on Redis.", ["operation"])
