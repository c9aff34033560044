"""health_app settings: the ``WINKR_HEALTH`` dict, read at call time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from caching_app.foundation.settings import AppSettings

if TYPE_CHECKING:
    from .components.base import HealthCheck

HEALTH_DEFAULTS: dict[str, Any] = {
    # Bearer token that may read component details and metrics (env HEALTH_TOKEN). None: staff only.
    "TOKEN": None,
    # The components /health reports, in order. Each is a dotted path to a HealthCheck subclass;
    # its ``name`` is the key in "components" and the URL /health/<name>. Add or replace freely.
    "CHECKS": [
        "health_app.components.redis.RedisCheck",
        "health_app.components.cache.CacheCheck",
        "health_app.components.sessions.SessionsCheck",
        "health_app.components.rate_limit.RateLimitCheck",
        "health_app.components.pubsub.PubSubCheck",
    ],
    # What /health/readiness checks: Redis (every alias) and the database, cheaply.
    "READINESS_CHECKS": [
        "health_app.components.redis.RedisPingCheck",
        "health_app.components.database.DatabaseCheck",
    ],
    # Anonymous /health callers share one status, computed at most once per this many seconds per
    # process (0: every anonymous request runs the checks). Staff and the health token get fresh details.
    "ANONYMOUS_STATUS_INTERVAL": 1.0,
    # Seconds after which a check still running is reported unhealthy (a hung Redis).
    "TIMEOUT": 3.0,
    # Connect/read/write timeout of the probes' own Redis clients (no retries), in seconds.
    "PROBE_SOCKET_TIMEOUT": 1.0,
    # Redis aliases the redis component probes; None: every alias in WINKR_REDIS.
    "REDIS_ALIASES": None,
    # A replica acknowledging later than this (seconds) makes the redis component degraded.
    "MAX_REPLICATION_LAG": 10,
}

health_settings = AppSettings("WINKR_HEALTH", HEALTH_DEFAULTS, import_strings=("CHECKS", "READINESS_CHECKS"))


def import_checks(key: str) -> list[type[HealthCheck]]:
    """The HealthCheck classes listed in ``WINKR_HEALTH[key]`` (imported by the settings object).

    Each must be a HealthCheck subclass with a name, and no name may appear twice; the
    offending entry is named in the error.
    """
    from .components.base import HealthCheck

    raw = health_settings.user_settings.get(key, HEALTH_DEFAULTS[key])
    if isinstance(raw, str) or not isinstance(raw, list | tuple):
        msg = f"WINKR_HEALTH[{key!r}] must be a list of dotted paths, not {raw!r}."
        raise ImproperlyConfigured(msg)
    classes = list(getattr(health_settings, key))
    for index, cls in enumerate(classes):
        if not (isinstance(cls, type) and issubclass(cls, HealthCheck)) or not cls.name:
            msg = f"WINKR_HEALTH[{key!r}][{index}] {raw[index]!r} is not a HealthCheck subclass with a name."
            raise ImproperlyConfigured(msg)
    names = [cls.name for cls in classes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        msg = f"WINKR_HEALTH[{key!r}] lists the component name(s) {duplicates} twice."
        raise ImproperlyConfigured(msg)
    return classes
