"""System checks for WINKR_CACHING (the Redis configuration's are in caching_app.foundation.checks)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from .conf import caching_settings

# Importing the foundation's checks registers them (WINKR_REDIS, the state store's eviction policy).
from .foundation.checks import unknown_alias_errors, unknown_key_errors


@register(Tags.compatibility)
def check_caching_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = unknown_key_errors(caching_settings, "winkr_caching.E003")
    for key in ("ALIAS", "GEO_ALIAS"):
        errors += unknown_alias_errors(f"WINKR_CACHING[{key!r}]", getattr(caching_settings, key), "winkr_caching.E005")
    ttls = caching_settings.TTLS
    if not isinstance(ttls, dict):
        return [*errors, Error("WINKR_CACHING['TTLS'] must be a dict of kind -> seconds.", id="winkr_caching.E004")]
    for kind, ttl in ttls.items():
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            errors.append(Error(
                f"WINKR_CACHING['TTLS'][{kind!r}] must be a positive number of seconds, got {ttl!r}.",
                id="winkr_caching.E004",
            ))
    return errors


@register(Tags.compatibility)
def check_cache_service_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    if caching_settings.SERIALIZER not in ("json", "msgpack"):
        errors.append(Error(f"WINKR_CACHING['SERIALIZER'] must be 'json' or 'msgpack', not "
                            f"{caching_settings.SERIALIZER!r} (pickle is never used).", id="winkr_caching.E011"))
    jitter = caching_settings.TTL_JITTER
    if not isinstance(jitter, int | float) or not 0 <= jitter < 1:
        errors.append(Error("WINKR_CACHING['TTL_JITTER'] must be a fraction in [0, 1).",
                            id="winkr_caching.E012"))
    for name in ("STALE_GRACE", "LOCK_TIMEOUT", "LOCK_WAIT"):
        value = getattr(caching_settings, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            errors.append(Error(f"WINKR_CACHING[{name!r}] must be a number of seconds >= 0, got {value!r}.",
                                id="winkr_caching.E013"))
    minimum = caching_settings.COMPRESS_MIN_BYTES
    if minimum is not None and (not isinstance(minimum, int) or minimum < 1):
        errors.append(Error("WINKR_CACHING['COMPRESS_MIN_BYTES'] must be None or a positive integer.",
                            id="winkr_caching.E014"))
    try:
        from .warming import get_warmers

        get_warmers()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="winkr_caching.E015"))
    return errors


