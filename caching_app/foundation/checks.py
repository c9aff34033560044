"""System checks of the Redis configuration every winkr app depends on (``WINKR_REDIS``), and the helper
each app's checks use for the aliases its settings name."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError

from .config import parse_alias
from .connections import build_sync_client, redis_connections
from .settings import AppSettings


@register(Tags.compatibility, "redis")
def check_redis_config(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    raw = getattr(settings, "WINKR_REDIS", None) or {}
    if not isinstance(raw, dict):
        return [Error("WINKR_REDIS must be a dict of alias -> options.", id="winkr_caching.E001")]
    for alias, options in raw.items():
        try:
            parse_alias(alias, options)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), hint="See the README's Redis settings table.", id="winkr_caching.E001"))
    for name, cache in (getattr(settings, "CACHES", None) or {}).items():
        factory = (cache.get("OPTIONS") or {}).get("CONNECTION_FACTORY", "")
        if factory.startswith("caching_app.") and str(cache.get("LOCATION", "")).removeprefix("winkr://") not in (
            set(raw) | {"state", "cache"}
        ):
            errors.append(Error(
                f"CACHES[{name!r}]['LOCATION'] names Redis alias {cache.get('LOCATION')!r}, "
                "which WINKR_REDIS does not define.",
                id="winkr_caching.E002",
            ))
    return errors


def unknown_key_errors(app_settings: AppSettings, error_id: str) -> list:
    """An error naming the keys of an app's ``WINKR_*`` dict that no default names: almost always a typo."""
    unknown = app_settings.unknown_keys()
    if not unknown:
        return []
    return [Error(f"Unknown {app_settings.setting_name} key(s): {', '.join(unknown)}.",
                  hint=f"Known keys: {', '.join(sorted(app_settings.defaults))}.", id=error_id)]


def unknown_alias_errors(where: str, aliases: Any, error_id: str) -> list:
    """Errors for Redis aliases named in an app's settings that WINKR_REDIS does not define.

    Without this check such a typo passes ``manage.py check`` and every request that reaches
    Redis raises ImproperlyConfigured: a 500 for all users instead of a start-up error.
    """
    raw = getattr(settings, "WINKR_REDIS", None) or {}
    known = set(raw if isinstance(raw, dict) else ()) | {"state", "cache"}
    names = [aliases] if isinstance(aliases, str) else list(aliases or ())
    return [
        Error(f"{where} names Redis alias {alias!r}, which WINKR_REDIS does not define.",
              hint=f"Known aliases: {', '.join(sorted(known))}.", id=error_id)
        for alias in names if alias not in known
    ]


def eviction_policy(alias: str) -> str | None:
    """The alias' ``maxmemory-policy``, or None if Redis cannot be asked quickly.

    Read from INFO rather than CONFIG GET, which the minimal ACL (docker/redis-acl.conf)
    refuses because it would also reveal the password.
    """
    config = replace(redis_connections.config(alias), dial_timeout=0.5, read_timeout=0.5, write_timeout=0.5,
                     max_retries=0, min_idle_connections=0)
    try:
        client = build_sync_client(config)  # a Cluster client connects here already
    except (RedisError, OSError):
        return None
    try:
        return client.info("memory").get("maxmemory_policy")
    except (RedisError, OSError):
        return None
    finally:
        client.close()


@register("redis", deploy=True)
def check_state_store_eviction(app_configs: Any = None, **kwargs: Any) -> list:
    """Warn when a store that must keep its data (sessions, tokens, limits) may evict keys.

    Registered for ``check --deploy`` only: it asks Redis, and the default checks run before
    every ``migrate`` and ``runserver`` and must not touch the network. health_app reports the
    same rule at run time.
    """
    warnings: list = []
    try:
        aliases = [alias for alias, cfg in redis_connections.configs.items() if not cfg.eviction_allowed]
    except ImproperlyConfigured:
        return []  # reported by check_redis_config
    for alias in aliases:
        policy = eviction_policy(alias)
        if policy and policy != "noeviction":
            warnings.append(Warning(
                f"Redis alias {alias!r} holds state that must not be evicted, but its maxmemory-policy "
                f"is {policy!r}.",
                hint="Set 'maxmemory-policy noeviction' on that server, or point the alias at one that has it.",
                id="winkr_caching.W001",
            ))
    return warnings
