"""The cache component: a probe key round trip on the "cache" alias, and hit/miss figures."""

from __future__ import annotations

import uuid
from time import perf_counter
from typing import Any

from caching_app.foundation.connections import CACHE
from caching_app.foundation.keys import make_key
from health_app.probes import get_probe_redis

from .base import HealthCheck, HealthCheckError

PROBE_TTL = 30  # seconds: a probe key left behind by a crash mid-check expires on its own


class CacheCheck(HealthCheck):
    name = "cache"
    alias = CACHE

    def run(self) -> dict[str, Any]:
        from health_app.metrics import cache_summary

        client = get_probe_redis(self.alias)
        # A fresh random key per probe: concurrent probes (several pods, several processes) never race.
        key = make_key("health", "cache-probe", uuid.uuid4().hex)
        value = uuid.uuid4().hex.encode()
        start = perf_counter()
        client.set(key, value, ex=PROBE_TTL)
        read_back = client.get(key)
        deleted = client.delete(key)
        round_trip_ms = round((perf_counter() - start) * 1000, 3)
        if read_back != value:
            msg = f"probe key read back {read_back!r} instead of what was written"
            raise HealthCheckError(msg)
        if deleted != 1:
            msg = "probe key could not be deleted"
            raise HealthCheckError(msg)
        info = client.info("stats")
        hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
        return {
            "stats": {
                "alias": self.alias,
                "set_get_delete_ms": round_trip_ms,
                "server_keyspace_hits": hits,
                "server_keyspace_misses": misses,
                "server_hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
                "evicted_keys": int(info.get("evicted_keys", 0)),
                "kinds": cache_summary(),
            }
        }
