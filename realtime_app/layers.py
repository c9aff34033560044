"""Channel layers that take their Redis servers from ``WINKR_REDIS``, like every other winkr client.

``CHANNEL_LAYERS["default"]["CONFIG"]["aliases"]`` names the WINKR_REDIS aliases to use (one shard
each, default ``["state"]``); an explicit ``hosts`` list still wins. Hosts are derived when the layer
is built, so overriding WINKR_REDIS (tests, another environment) moves the channel layer with it.

channels_redis builds its own ``redis.asyncio`` pools from host dicts and cannot take ready clients,
so this module translates our alias configuration (URL, ACL user, password, TLS files, Sentinel)
into those dicts instead of building clients itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.core import RedisChannelLayer as CoreRedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as CorePubSubChannelLayer
from channels_redis.pubsub import RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.serializers import MsgPackSerializer
from channels_redis.utils import _wrap_close
from django.core.exceptions import ImproperlyConfigured

from caching_app.foundation.config import RedisAliasConfig
from caching_app.foundation.connections import redis_connections

from .resubscribe import ResubscribeNotices, watch_reconnects

DEFAULT_ALIASES = ("state",)


def host_for_alias(config: RedisAliasConfig, *, pubsub: bool) -> dict[str, Any]:
    """A channels_redis host dict for one WINKR_REDIS alias."""
    common: dict[str, Any] = {
        "username": config.username,
        "password": config.password,
        "socket_connect_timeout": config.dial_timeout,
    }
    if config.tls:
        common.update(ssl_ca_certs=config.ssl_ca_certs, ssl_certfile=config.ssl_certfile,
                      ssl_keyfile=config.ssl_keyfile, ssl_cert_reqs=config.ssl_cert_reqs)
    common = {key: value for key, value in common.items() if value is not None}
    if config.mode == "sentinel":
        sentinel_kwargs = {"username": config.sentinel_username, "password": config.sentinel_password}
        return {
            "sentinels": [(node.host, node.port) for node in config.sentinels],
            "master_name": config.sentinel_service,
            "sentinel_kwargs": {k: v for k, v in sentinel_kwargs.items() if v is not None},
            "db": config.db,
            **common,
        }
    if config.mode == "cluster":
        if not pubsub:
            msg = (
                f"WINKR_REDIS[{config.alias!r}] is a Redis Cluster: channels_redis' RedisChannelLayer cannot "
                "run on Cluster (its Lua scripts touch keys of many slots). Use realtime_app.cluster_layer."
                "ClusterChannelLayer (sharded pub/sub, REALTIME_CHANNEL_LAYER=cluster)."
            )
            raise ImproperlyConfigured(msg)
        node = config.cluster_nodes[0] if config.cluster_nodes else None
        host, port = (node.host, node.port) if node else (config.host, config.port)
        return {"address": f"{config.scheme}://{host}:{port}/0", **common}
    if config.scheme == "unix":
        return {"address": f"unix://{config.path}?db={config.db}", **common}
    return {"address": f"{config.scheme}://{config.host}:{config.port}/{config.db}", **common}


def hosts_for_aliases(aliases: Any, *, pubsub: bool) -> list[dict[str, Any]]:
    if isinstance(aliases, str) or not aliases:
        msg = "CHANNEL_LAYERS CONFIG 'aliases' must be a non-empty list of WINKR_REDIS aliases."
        raise ImproperlyConfigured(msg)
    return [host_for_alias(redis_connections.config(alias), pubsub=pubsub) for alias in aliases]


class _NoticingShardConnection(RedisSingleShardConnection):
    """channels_redis' shard connection, announcing when redis-py re-subscribes after a reconnect.

    channels_redis accepts ``on_reconnect`` but never calls it (4.3), so a socket cannot know it missed
    messages; this hooks redis-py's PubSub reconnect instead.
    """

    def _ensure_redis(self) -> None:
        fresh = self._redis is None
        super()._ensure_redis()
        if fresh:
            watch_reconnects(self._pubsub, self.channel_layer.notify_resubscribed)

    async def publish_many(self, channels: list[str], payload: bytes) -> None:
        """PUBLISH one payload to several channels in one round trip (under the shard's lock, like publish)."""
        async with self._lock:
            self._ensure_redis()
            pipe = self._redis.pipeline(transaction=False)
            for channel in channels:
                pipe.publish(channel, payload)
            await pipe.execute()


class _NoticingLoopLayer(ResubscribeNotices, RedisPubSubLoopLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resubscribe_listeners: set[str] = set()
        self._shards: list[Any] = [_NoticingShardConnection(shard.host, self) for shard in self._shards]

    def serialize(self, message: dict) -> bytes:
        return self.channel_layer.serialize(message)

    async def group_send_many(self, groups: Any, message: dict) -> None:
        """``group_send`` of one message to several groups: serialized once, one round trip per shard."""
        payload = self.serialize(message)
        by_shard: dict[Any, list[str]] = {}
        for group in groups:
            channel = self._get_group_channel_name(group)
            by_shard.setdefault(self._get_shard(channel), []).append(channel)
        await asyncio.gather(*(shard.publish_many(channels, payload) for shard, channels in by_shard.items()))

    async def receive(self, channel: str) -> Any:
        try:
            return await super().receive(channel)
        except BaseException:
            if channel not in self.channels:
                self.resubscribe_listeners.discard(channel)
            raise

    async def flush(self) -> None:
        self.resubscribe_listeners = set()
        await super().flush()


class RedisPubSubChannelLayer(CorePubSubChannelLayer):
    """channels_redis' pub/sub layer (at-most-once, no capacity) on our Redis aliases, announcing every
    re-established subscription to the channels that asked (``add_resubscribe_listener``)."""

    def __init__(self, *args: Any, aliases: Any = DEFAULT_ALIASES, hosts: Any = None, **kwargs: Any) -> None:
        self.aliases = list(aliases)
        self.explicit_hosts = hosts
        self._script_aliases: dict[str, bool] = {}
        super().__init__(*args, **kwargs)

    async def group_send_many(self, groups: Any, message: dict) -> None:
        """Extension used by realtime_app.delivery: one message to several groups, published once."""
        await self._get_layer().group_send_many(groups, message)

    def script_publishes_on(self, alias: str) -> bool:
        """Whether a Lua script run on WINKR_REDIS ``alias`` may PUBLISH this layer's messages itself: one
        shard, on that server, msgpack with no encryption or random prefix (what ``cmsgpack.pack`` writes)."""
        allowed = self._script_aliases.get(alias)
        if allowed is None:
            serializer = self._serializer
            allowed = self._script_aliases[alias] = (
                self.explicit_hosts is None and len(self.aliases) == 1
                and redis_connections.same_server(self.aliases[0], alias)
                and type(serializer) is MsgPackSerializer and serializer.crypter is None
                and not serializer.random_prefix_length)
        return allowed

    def group_channel(self, group: str) -> str:
        """The pub/sub channel of ``group``: channels_redis' ``_get_group_channel_name``, without a loop layer."""
        return f"{self._kwargs.get('prefix', 'asgi')}__group__{group}"

    def only_local_member(self, group: str, channel: str) -> bool:
        """Whether ``channel`` is the one channel of this process (this loop's layer) in ``group``."""
        try:
            layer = self._layers.get(asyncio.get_running_loop())
        except RuntimeError:  # no loop: a sync caller holds no channel
            return False
        return layer is not None and layer.groups.get(self.group_channel(group)) == {channel}

    def _get_layer(self) -> Any:
        # Hosts are resolved when the first per-loop layer is built, not at import.
        if "hosts" not in self._kwargs:
            self._kwargs["hosts"] = self.explicit_hosts or hosts_for_aliases(self.aliases, pubsub=True)
        # channels_redis' own _get_layer, building our loop layer.
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _NoticingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer


class RedisChannelLayer(CoreRedisChannelLayer):
    """channels_redis' list-based layer (capacity, expiry, at-least-until-expiry) on our Redis aliases."""

    def __init__(self, *args: Any, aliases: Any = DEFAULT_ALIASES, hosts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, hosts=hosts or hosts_for_aliases(aliases, pubsub=False), **kwargs)


def reset_layers_on_redis_change(*, setting: str, **kwargs: Any) -> None:
    """Drop built channel layers when WINKR_REDIS changes, as Channels does for CHANNEL_LAYERS.

    Our layers take their hosts from WINKR_REDIS, but Channels only forgets a built layer when
    CHANNEL_LAYERS itself changes: without this, ``override_settings(WINKR_REDIS=...)`` left the
    layer publishing to the previous servers.
    """
    if setting == "WINKR_REDIS":
        from channels.layers import channel_layers

        channel_layers.backends = {}
