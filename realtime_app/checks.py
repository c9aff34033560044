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
    for key in POSITIVE_INTS:
        value = getattr(realtime_settings, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"WINKR_REALTIME[{key!r}] must be a positive number, got {value!r}.",
                                id="winkr_realtime.E002"))
    for key in REALTIME_IMPORT_STRINGS:
        try:
            getattr(realtime_settings, key)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="winkr_realtime.E003"))
    cache_ttl = realtime_settings.RECIPIENT_CACHE_TTL
    if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, int | float) or cache_ttl < 0:
        errors.append(Error(f"WINKR_REALTIME['RECIPIENT_CACHE_TTL'] must be a number >= 0, got {cache_ttl!r}.",
                            id="winkr_realtime.E007"))
    rate = realtime_settings.CHAT_RATE_LIMIT
    if not (isinstance(rate, dict) and all(isinstance(rate.get(k), int) and rate[k] > 0
                                           for k in ("requests", "window"))):
        errors.append(Error("WINKR_REALTIME['CHAT_RATE_LIMIT'] must be {'requests': int > 0, 'window': int > 0}.",
                            id="winkr_realtime.E004"))
    frames = realtime_settings.FRAME_RATE_LIMIT
    if not (isinstance(frames, dict) and all(isinstance(frames.get(k), int) and frames[k] > 0
                                             for k in ("frames", "window"))):
        errors.append(Error("WINKR_REALTIME['FRAME_RATE_LIMIT'] must be {'frames': int > 0, 'window': int > 0}.",
                            id="winkr_realtime.E009"))
    ttl = realtime_settings.PRESENCE_TTL
    beat = realtime_settings.HEARTBEAT_INTERVAL
    if isinstance(ttl, int | float) and isinstance(beat, int | float) and beat >= ttl:
        errors.append(Error("WINKR_REALTIME['HEARTBEAT_INTERVAL'] must be shorter than 'PRESENCE_TTL', or open "
                            "sockets flicker offline between heartbeats.", id="winkr_realtime.E005"))
    layer = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get("default")
    if not layer:
        errors.append(Error("CHANNEL_LAYERS['default'] is not configured; chat and notifications need it.",
                            id="winkr_realtime.E006"))
    else:
        errors += layer_mode_errors(layer)
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
