"""What the revocation list holds right now (for ``manage.py blacklist_stats``)."""

from __future__ import annotations

from typing import Any

from caching_app.foundation.connections import get_redis
from caching_app.foundation.keys import make_key

from .blacklist import NAMESPACE
from .conf import jwt_settings

KINDS = {"t": "revoked_tokens", "s": "revoked_sessions", "before": "revoked_users", "user": "cached_user_rows"}


def collect(sample: int = 200) -> dict[str, Any]:
    """Count markers by kind (SCAN: O(keys), off the request path) and sample their memory use."""
    client = get_redis(jwt_settings.ALIAS)
    counts = dict.fromkeys(KINDS.values(), 0)
    memory = dict.fromkeys(KINDS.values(), 0)
    sampled = dict.fromkeys(KINDS.values(), 0)
    for key in client.scan_iter(match=make_key(NAMESPACE) + ":*", count=1000):
        text = key.decode() if isinstance(key, bytes) else key
        parts = text.split(":")
        kind = KINDS.get(parts[3] if len(parts) > 3 else "")
        if kind is None:
            continue
        counts[kind] += 1
        if sampled[kind] < sample:
            usage = client.memory_usage(key, samples=0)
            if usage is not None:
                memory[kind] += int(usage)
                sampled[kind] += 1
    return {
        **counts,
        "bytes_per_key": {kind: round(memory[kind] / sampled[kind]) for kind in KINDS.values() if sampled[kind]},
    }
