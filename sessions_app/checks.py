"""System checks for WINKR_SESSIONS and the session engine set-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from caching_app.foundation.checks import unknown_alias_errors, unknown_key_errors

from .conf import NON_NEGATIVE_INTS, POSITIVE_INTS, sessions_settings
from .keys import MAX_INDEX_BUCKETS

ENGINE = "sessions_app.backends.redis"
MIDDLEWARE = "sessions_app.middleware.SessionMiddleware"
JSON_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_sessions_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = unknown_key_errors(sessions_settings, "winkr_sessions.E001")
    for name in POSITIVE_INTS + NON_NEGATIVE_INTS:
        value = getattr(sessions_settings, name)
        if not _is_number(value) or value < 0 or (name in POSITIVE_INTS and value == 0):
            kind = "a positive" if name in POSITIVE_INTS else "a non-negative"
            errors.append(Error(f"WINKR_SESSIONS[{name!r}] must be {kind} number, got {value!r}.",
                                id="winkr_sessions.E002"))
    jwt_ttl = sessions_settings.JWT_SESSION_TTL
    if jwt_ttl is not None and (not _is_number(jwt_ttl) or jwt_ttl <= 0):
        errors.append(Error(f"WINKR_SESSIONS['JWT_SESSION_TTL'] must be None or a positive number, got {jwt_ttl!r}.",
                            id="winkr_sessions.E002"))
    if not isinstance(sessions_settings.DEVICE_HEADERS, dict):
        errors.append(Error("WINKR_SESSIONS['DEVICE_HEADERS'] must be a dict of device field -> META key.",
                            id="winkr_sessions.E003"))
    errors += unknown_alias_errors("WINKR_SESSIONS['REDIS_ALIAS']", sessions_settings.REDIS_ALIAS,
                                   "winkr_sessions.E004")
    buckets = sessions_settings.INDEX_BUCKETS
    if not isinstance(buckets, int) or isinstance(buckets, bool) or not 1 <= buckets <= MAX_INDEX_BUCKETS:
        errors.append(Error(
            f"WINKR_SESSIONS['INDEX_BUCKETS'] must be an integer from 1 to {MAX_INDEX_BUCKETS}, got {buckets!r}.",
            hint="16 spreads the all-sessions and online indexes over up to 16 masters.", id="winkr_sessions.E005",
        ))
    return errors


@register(Tags.compatibility)
def check_session_engine(app_configs: Any = None, **kwargs: Any) -> list:
    if getattr(settings, "SESSION_ENGINE", "") != ENGINE:
        return []
    warnings: list = []
    if MIDDLEWARE not in getattr(settings, "MIDDLEWARE", []):
        warnings.append(Warning(
            f"SESSION_ENGINE is {ENGINE!r} but MIDDLEWARE lacks {MIDDLEWARE!r}: device activity and online "
            "status are not tracked, and a Redis outage gives 500s instead of 503s.",
            hint=f"Use {MIDDLEWARE!r} in place of django.contrib.sessions.middleware.SessionMiddleware.",
            id="winkr_sessions.W001",
        ))
    if getattr(settings, "SESSION_SERIALIZER", JSON_SERIALIZER) != JSON_SERIALIZER:
        warnings.append(Warning(
            "SESSION_SERIALIZER is not Django's JSONSerializer; winkr stores sessions as JSON and never unpickles "
            "data read from Redis.", id="winkr_sessions.W002",
        ))
    return warnings
