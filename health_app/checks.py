"""System checks for WINKR_HEALTH."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from caching_app.foundation.checks import unknown_alias_errors, unknown_key_errors

from .conf import health_settings, import_checks

MIN_TOKEN_LENGTH = 24


@register(Tags.compatibility)
def check_health_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = unknown_key_errors(health_settings, "winkr_health.E001")
    for key in ("CHECKS", "READINESS_CHECKS"):
        try:
            import_checks(key)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="winkr_health.E002"))
    for key in ("TIMEOUT", "PROBE_SOCKET_TIMEOUT", "MAX_REPLICATION_LAG"):
        value = getattr(health_settings, key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            errors.append(Error(f"WINKR_HEALTH[{key!r}] must be a positive number of seconds, got {value!r}.",
                                id="winkr_health.E003"))
    errors += unknown_alias_errors("WINKR_HEALTH['REDIS_ALIASES']", health_settings.REDIS_ALIASES,
                                   "winkr_health.E004")
    token = health_settings.TOKEN
    if token and len(str(token)) < MIN_TOKEN_LENGTH:
        errors.append(Warning(
            f"WINKR_HEALTH['TOKEN'] (HEALTH_TOKEN) is shorter than {MIN_TOKEN_LENGTH} characters.",
            hint="Use a long random value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
            id="winkr_health.W001",
        ))
    return errors
