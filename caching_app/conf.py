"""caching_app's settings: the ``WINKR_CACHING`` dict (key prefix, TTLs per kind, the cache API's knobs)."""

from __future__ import annotations

from typing import Any

from .foundation.settings import AppSettings

CACHING_DEFAULTS: dict[str, Any] = {
    # Prefix of every key any winkr app writes, so several projects can share one Redis.
    "KEY_PREFIX": "winkr",
    # TTL in seconds per cache kind (the original design's CacheConfig).
    "TTLS": {
        "user_profile": 15 * 60,
        "photo_metadata": 60 * 60,
        "match_recommendations": 30 * 60,
        "api_response": 5 * 60,
        "geospatial": 10 * 60,
    },
    # Record per-command counts, errors and latency of every Redis client.
    "COMMAND_METRICS": True,
    # --- the cache API (caching_app.service, decorators, geo, warming) ---
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
    # --- Django's cache framework on caching_app.django_cache.RedisCache (caching_app.signing) ---
    # Secret the signed-pickle serializer derives its HMAC key from; None: SECRET_KEY.
    "SIGNING_KEY": None,
    # Older secrets still accepted when reading (rotation); None: SECRET_KEY_FALLBACKS when
    # SIGNING_KEY is None, else none.
    "SIGNING_KEY_FALLBACKS": None,
}

caching_settings = AppSettings("WINKR_CACHING", CACHING_DEFAULTS, import_strings=("WARMERS",))
