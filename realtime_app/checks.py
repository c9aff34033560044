"""System checks for WINKR_REALTIME and the channel layer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from caching_app.foundation.checks import unknown_alias_errors, unknown_key_errors
from caching_app.foundation.connections import redis_connections

from .conf import REALTIME_IMPORT_STRINGS, realtime_settings

POSITIVE_INTS = ("MAX_TEXT_LENGTH", "MAX_FRAME_BYTES", "CHAT_STREAM_MAXLEN", "CHAT_STREAM_TTL",
                 "NOTIFICATION_STREAM_MAXLEN", "NOTIFICATION_STREAM_TTL", "MAX_PAGE_SIZE", "PRESENCE_TTL",
                 "HEARTBEAT_INTERVAL", "CLIENT_ID_TTL", "REPLAY_PAGE_SIZE", "MAX_OUTGOING_BYTES", "FRAME_ABUSE_LIMIT")


@register(Tags.compatibility)
def check_realtime_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors = unknown_alias_errors("WINKR_REALTIME['REDIS_ALIAS']", realtime_settings.REDIS_ALIAS,
                                  "winkr_realtime.E008")
    layer = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get("default", {})
    if str(layer.get("BACKEND", "")).startswith("realtime_app."):
        errors += unknown_alias_errors("CHANNEL_LAYERS['default']['CONFIG']['aliases']",
                                       (layer.get("CONFIG") or {}).get("aliases", ["state"]), "winkr_realtime.E008")
    errors += unknown_key_errors(realtime_settings, "winkr_realtime.E001")
    errors += _number_errors()
    for key in REALTIME_IMPORT_STRINGS:
        try:
            getattr(realtime_settings, key)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="winkr_realtime.E003"))
    errors += _rate_limit_errors()
    layer = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get("default")
    if not layer:
        errors.append(Error("CHANNEL_LAYERS['default'] is not configured; chat and notifications need it.",
                            id="winkr_realtime.E006"))
    else:
        errors += layer_mode_errors(layer)
    return errors


def _number_errors() -> list:
    """Positive sizes and TTLs, the recipient cache TTL, and the heartbeat shorter than the presence TTL."""
    errors = []
    for key in POSITIVE_INTS:
        value = getattr(realtime_settings, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"WINKR_REALTIME[{key!r}] must be a positive number, got {value!r}.",
                                id="winkr_realtime.E002"))
    cache_ttl = realtime_settings.RECIPIENT_CACHE_TTL
    if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, int | float) or cache_ttl < 0:
        errors.append(Error(f"WINKR_REALTIME['RECIPIENT_CACHE_TTL'] must be a number >= 0, got {cache_ttl!r}.",
                            id="winkr_realtime.E007"))
    ttl, beat = realtime_settings.PRESENCE_TTL, realtime_settings.HEARTBEAT_INTERVAL
    if isinstance(ttl, int | float) and isinstance(beat, int | float) and beat >= ttl:
        errors.append(Error("WINKR_REALTIME['HEARTBEAT_INTERVAL'] must be shorter than 'PRESENCE_TTL', or open "
                            "sockets flicker offline between heartbeats.", id="winkr_realtime.E005"))
    return errors


def _positive_ints(value: Any, keys: tuple[str, ...]) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), int) and value[k] > 0 for k in keys)


def _rate_limit_errors() -> list:
    errors = []
    if not _positive_ints(realtime_settings.CHAT_RATE_LIMIT, ("requests", "window")):
        errors.append(Error("WINKR_REALTIME['CHAT_RATE_LIMIT'] must be {'requests': int > 0, 'window': int > 0}.",
                            id="winkr_realtime.E004"))
    if not _positive_ints(realtime_settings.FRAME_RATE_LIMIT, ("frames", "window")):
        errors.append(Error("WINKR_REALTIME['FRAME_RATE_LIMIT'] must be {'frames': int > 0, 'window': int > 0}.",
                            id="winkr_realtime.E009"))
    return errors


def layer_mode_errors(layer: dict) -> list:
    """The Cluster layer needs one Cluster alias; a Cluster alias is better served by the Cluster layer."""
    backend = str(layer.get("BACKEND", ""))
    aliases = (layer.get("CONFIG") or {}).get("aliases", ["state"])
    if isinstance(aliases, str) or not aliases:
        return []
    try:
        modes = [redis_connections.config(alias).mode for alias in aliases]
    except ImproperlyConfigured:
        return []  # reported as E008 above
    if backend == "realtime_app.cluster_layer.ClusterChannelLayer" and modes != ["cluster"]:
        return [Error("ClusterChannelLayer needs exactly one WINKR_REDIS alias in cluster mode, got "
                      f"{list(aliases)!r} ({', '.join(modes)}).",
                      hint="Use realtime_app.layers.RedisPubSubChannelLayer on standalone or Sentinel "
                           "(REALTIME_CHANNEL_LAYER=pubsub).", id="winkr_realtime.E009")]
    if backend == "realtime_app.layers.RedisPubSubChannelLayer" and "cluster" in modes:
        return [Warning("RedisPubSubChannelLayer on a Redis Cluster talks to one node: its PUBLISH is broadcast "
                        "to every node and that node is a single point of failure.",
                        hint="Use realtime_app.cluster_layer.ClusterChannelLayer (REALTIME_CHANNEL_LAYER=cluster).",
                        id="winkr_realtime.W001")]
    return []
