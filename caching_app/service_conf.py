"""Settings of the cache API (``WINKR_CACHE_SERVICE``), read at call time.

Kept apart from ``WINKR_CACHING`` (connection layer: key prefix, TTLs, command metrics)
because that dict's defaults live in the core ``conf.py``; the TTL per kind is still
``WINKR_CACHING["TTLS"]``.
"""

from __future__ import annotations

from typing import Any

from .conf import AppSettings

SERVICE_DEFAULTS: dict[str, Any] = {
    # False turns every cache read into a miss and skips writes (benchmarks, debugging).
    "ENABLED": True,
    # Redis alias of cached entries: evictable data, so "cache".
    "ALIAS": "cache",
    # Redis alias of the user-location GEO index (see caching_app.geo for why "cache").
    "GEO_ALIAS": "cache",
    # "json" or "msgpack"; never pickle. Entries written in either format stay readable.
    "SERIALIZER": "json",
    # Compress payloads of at least this many bytes with zlib (None: never).
    "COMPRESS_MIN_BYTES": 2048,
    "COMPRESS_LEVEL": 6,
    # Fresh lifetime is TTL * uniform(1 - TTL_JITTER, 1): keys written together expire apart.
    "TTL_JITTER": 0.1,
    # Seconds Redis keeps an entry past its fresh lifetime, served while one caller recomputes.
    "STALE_GRACE": 30,
    # Stampede lock: how long one recompute may hold it, and how long others wait for its result.
    "LOCK_TIMEOUT": 10.0,
    "LOCK_WAIT": 2.0,
    # kind -> dotted path of a caching_app.warming.Warmer subclass, for ``manage.py warm_cache``.
    "WARMERS": {},
}

service_settings = AppSettings("WINKR_CACHE_SERVICE", SERVICE_DEFAULTS)
