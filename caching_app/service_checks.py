"""System checks for WINKR_CACHE_SERVICE (the cache API's settings)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from .service_conf import SERVICE_DEFAULTS, service_settings


@register(Tags.compatibility)
def check_cache_service_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    unknown = service_settings.unknown_keys()
    if unknown:
        errors.append(Error(f"Unknown WINKR_CACHE_SERVICE key(s): {', '.join(unknown)}.",
                            hint=f"Known keys: {', '.join(sorted(SERVICE_DEFAULTS))}.", id="winkr_caching.E010"))
    if service_settings.SERIALIZER not in ("json", "msgpack"):
        errors.append(Error(f"WINKR_CACHE_SERVICE['SERIALIZER'] must be 'json' or 'msgpack', not "
                            f"{service_settings.SERIALIZER!r} (pickle is never used).", id="winkr_caching.E011"))
    jitter = service_settings.TTL_JITTER
    if not isinstance(jitter, int | float) or not 0 <= jitter < 1:
        errors.append(Error("WINKR_CACHE_SERVICE['TTL_JITTER'] must be a fraction in [0, 1).",
                            id="winkr_caching.E012"))
    for name in ("STALE_GRACE", "LOCK_TIMEOUT", "LOCK_WAIT"):
        value = getattr(service_settings, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            errors.append(Error(f"WINKR_CACHE_SERVICE[{name!r}] must be a number of seconds >= 0, got {value!r}.",
                                id="winkr_caching.E013"))
    minimum = service_settings.COMPRESS_MIN_BYTES
    if minimum is not None and (not isinstance(minimum, int) or minimum < 1):
        errors.append(Error("WINKR_CACHE_SERVICE['COMPRESS_MIN_BYTES'] must be None or a positive integer.",
                            id="winkr_caching.E014"))
    try:
        from .warming import get_warmers

        get_warmers()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="winkr_caching.E015"))
    return errors
