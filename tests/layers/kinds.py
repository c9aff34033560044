"""The layers the conformance suite runs against, by name."""

from __future__ import annotations

from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer as UpstreamPubSubLayer

from caching_app.foundation.connections import redis_connections
from realtime_app.cluster_layer import ClusterChannelLayer
from realtime_app.layers import RedisPubSubChannelLayer

KINDS = ("channels_redis", "pubsub", "cluster")


def build_layer(kind: str) -> Any:
    """channels_redis' own pub/sub layer, our subclass of it, or the sharded Cluster layer, on "state"."""
    if kind == "channels_redis":
        config = redis_connections.config("state")
        return UpstreamPubSubLayer(hosts=[f"redis://{config.host}:{config.port}/0"], prefix="conformance")
    if kind == "pubsub":
        return RedisPubSubChannelLayer(prefix="conformance")
    if kind == "cluster":
        return ClusterChannelLayer(prefix="conformance")
    raise ValueError(kind)
