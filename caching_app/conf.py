"""Per-app settings objects, in the manner of DRF's ``api_settings``.

Each winkr app reads one namespaced dict from Django settings (``WINKR_SESSIONS``,
``WINKR_RATELIMIT``, ...) through an :class:`AppSettings` instance. Values are read
at attribute access time, cached, and dropped again when ``setting_changed`` fires,
so ``override_settings`` reaches them (unlike DRF's class-body reads, DRF #6030).
DRF documents its own class as internal, hence this small copy of the idea.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string


class AppSettings:
    """Lazy, validated access to one ``WINKR_*`` settings dict with defaults."""

    def __init__(self, setting_name: str, defaults: Mapping[str, Any], import_strings: Iterable[str] = ()):
        self.setting_name = setting_name
        self.defaults = dict(defaults)
        self.import_strings = frozenset(import_strings)
        self._cached: set[str] = set()
        setting_changed.connect(self._on_setting_changed, weak=False)

    @property
    def user_settings(self) -> Mapping[str, Any]:
        value = getattr(settings, self.setting_name, None) or {}
        if not isinstance(value, Mapping):
            raise ImproperlyConfigured(f"{self.setting_name} must be a dict, not {type(value).__name__}.")
        return value

    def unknown_keys(self) -> list[str]:
        """Keys the project set that no default names: almost always a typo."""
        return sorted(set(self.user_settings) - set(self.defaults))

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr not in self.defaults:
            raise AttributeError(f"Invalid {self.setting_name} setting: {attr!r}")
        value = self.user_settings.get(attr, self.defaults[attr])
        if attr in self.import_strings:
            value = self._import(value, f"{self.setting_name}[{attr!r}]")
        setattr(self, attr, value)
        self._cached.add(attr)
        return value

    def _import(self, value: Any, where: str) -> Any:
        """Dotted paths become objects: a string, each item of a list/tuple (as DRF's perform_import), or each
        value of a dict; an error names the entry (``WINKR_HEALTH['CHECKS'][0]``)."""
        if isinstance(value, (list, tuple)):
            return [self._import(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if isinstance(value, Mapping):
            return {key: self._import(item, f"{where}[{key!r}]") for key, item in value.items()}
        if not isinstance(value, str):
            return value
        try:
            return import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"Could not import {value!r} for {where}: {exc}") from exc

    def reload(self) -> None:
        for attr in self._cached:
            self.__dict__.pop(attr, None)
        self._cached.clear()

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting == self.setting_name:
            self.reload()


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
