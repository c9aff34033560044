"""A Channels layer for Redis Cluster on sharded pub/sub (``SSUBSCRIBE``/``SPUBLISH``, Redis 7+, Valkey).

Every channel and every group is one sharded pub/sub channel in the slot of its own name, so
subscriptions and traffic spread over the masters; ``send`` and ``group_send`` are one ``SPUBLISH``
each, which only the owning shard sees (a plain ``PUBLISH`` is broadcast over the whole cluster bus).
Delivery is at-most-once, like channels_redis' pub/sub layer: the chat and notification Streams give
replay, and every re-established subscription is announced to the sockets (realtime_app.resubscribe).

Why the subscriber is hand-written on top of redis-py (8.1) rather than ``RedisCluster.pubsub()``:
- ``ClusterPubSub.get_sharded_message`` polls the per-node connections one after another with the
  timeout applied to each, so one idle master delays the messages of the others; we read every node's
  connection in its own task.
- A ``ClusterPubSub`` that only reads never learns that its master died: it reconciles shard
  subscriptions only when some *other* command refreshes the slot map. Here a read error on a node
  refreshes the slot map and moves that node's channels to their new owners (failover), and a
  server-sent ``sunsubscribe`` (the slot was migrated away) moves the channel too.
- redis-py's own PubSub reconnect (same node back after a restart or a blip) re-subscribes by itself;
  we only hook it to announce the resubscription.
The publishing side is the alias' shared ``RedisCluster`` client (caching_app.foundation.connections); the per-node
subscriber connections are built from that client's node settings (auth, TLS, timeouts, retry), i.e.
from the same WINKR_REDIS alias. A publish that fails on a link is sent once more on a slot map read since
(:class:`SlotMap`): redis-py reads the map again at most once a second, and retries on the one it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import types
import uuid
from collections import Counter
from typing import Any

import redis.asyncio
from channels.layers import BaseChannelLayer
from channels_redis.serializers import registry
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.cluster import ClusterPubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from caching_app.foundation.connections import get_async_redis

from .metrics import LAYER_DROPPED
from .resubscribe import RESUBSCRIBED_EVENT, ResubscribeNotices, watch_reconnects

logger = logging.getLogger(__name__)

LINK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# What reading the slot map raises when no node answers: RedisClusterException is not a RedisError.
SLOT_MAP_ERRORS = (RedisError, RedisClusterException, OSError)
# How long one read waits for a message before looping (seconds); only bounds shutdown and health checks.
READ_WAIT = 1.0
# Pause between slot-map refreshes while a master is down and not yet replaced (seconds, doubling, capped).
RECOVERY_DELAY, RECOVERY_DELAY_CAP = 0.1, 1.0


class SlotMap:
    """The layer's own reads of a cluster client's slot map, one at a time.

    redis-py reads the map again after a connection error at most once a second
    (``topology_refresh_min_interval``); the layer cannot wait that long where it knows the map is stale (a
    subscriber lost its master, a publish failed on a link). A read that began after a caller's moment
    answers that caller too, and so does its failure (no node answered): a burst of failures costs one
    ``CLUSTER SLOTS`` sweep, not one per caller.
    """

    def __init__(self, cluster: Any):
        self.cluster = cluster
        self.lock = asyncio.Lock()
        self.read_at = -math.inf
        self.failed: BaseException | None = None  # the outcome of the read that began at read_at

    async def read_since(self, moment: float) -> None:
        """Make sure the map was read after ``moment`` (``time.monotonic()``); raises SLOT_MAP_ERRORS."""
        async with self.lock:
            if self.read_at <= moment:
                self.read_at, self.failed = time.monotonic(), None
                try:
                    await self.cluster.nodes_manager.initialize()
                except SLOT_MAP_ERRORS as exc:
                    self.failed = exc
            if self.failed is not None:
                raise self.failed


def _forget_locally(pubsub: Any, name: str) -> None:
    """Drop ``name`` from a PubSub's own bookkeeping without a round trip (its node is gone or moved it away),
    so redis-py does not re-subscribe it there on reconnect."""
    for key in (name, name.encode()):
        pubsub.shard_channels.pop(key, None)
        pubsub.pending_unsubscribe_shard_channels.discard(key)


class _NodeSubscriber:
    """One SSUBSCRIBE connection to one master, read by its own task."""

    def __init__(self, owner: ShardedSubscriber, node: Any):
        self.owner = owner
        self.node_name = node.name
        self.names: set[str] = set()
        pool = redis.asyncio.ConnectionPool(connection_class=node.connection_class, max_connections=1,
                                            **node.connection_kwargs)
        self.client = redis.asyncio.Redis(connection_pool=pool)
        self.pubsub = self.client.pubsub()
        # A reconnect replays every name in one SSUBSCRIBE, which the node refuses (CROSSSLOT) when they are in
        # different slots, and nothing would send them again: replay one per slot, as redis-py's ClusterPubSub
        # makes its own per-node PubSubs do.
        self.pubsub._resubscribe_shard_channels = types.MethodType(  # type: ignore[method-assign]
            ClusterPubSub._resubscribe_shard_channels, self.pubsub)
        watch_reconnects(self.pubsub, owner.on_resubscribed)
        self.task: asyncio.Task | None = None
        # Set by close(): the read loop stops at its next turn (within READ_WAIT) even where a cancellation
        # does not reach it. One was seen lost while the task read through redis-py's timed get_message,
        # which left the task reading for good and close() (so the layer's flush) waiting on it.
        self.closing = False
        self.down = False  # logged once per outage
        # SUNSUBSCRIBEs we sent and whose confirmation has not been read: any other sunsubscribe comes from
        # the server (slot migrated away), also when a name was left and joined again in quick succession.
        self.leaving: Counter[str] = Counter()

    async def ssubscribe(self, name: str) -> None:
        await self.pubsub.ssubscribe(name)
        self.names.add(name)
        if self.task is None:
            self.task = asyncio.ensure_future(self.read())

    async def sunsubscribe(self, name: str) -> None:
        self.names.discard(name)
        try:
            await self.pubsub.sunsubscribe(name)
            self.leaving[name] += 1
        except LINK_ERRORS:
            _forget_locally(self.pubsub, name)

    async def read(self) -> None:
        while not self.closing:
            message, rehomed = await self._receive()
            if self.closing:
                return
            if rehomed and not self.names:
                return
            if message is not None and await self._handle(message) and not self.names:
                return

    async def _receive(self) -> tuple[dict[str, Any] | None, bool]:
        """The next message (None after a wait or a lost link), and whether this node's channels were re-homed."""
        try:
            try:
                message = await self.pubsub.get_message(timeout=READ_WAIT)
            except Exception:
                if self.closing:  # close() shut the connection under this read: nothing to re-home
                    return None, True
                raise
        except LINK_ERRORS as exc:
            # redis-py already retried reconnecting to this node: its slots may have a new owner.
            logger.log(logging.DEBUG if self.down else logging.WARNING,
                       "Sharded pub/sub connection to %s lost (%r); re-homing its channels", self.node_name, exc)
            self.down = True
            await self.owner.rehome(self, list(self.names), time.monotonic())
            return None, True
        except ResponseError as exc:  # MOVED to an SSUBSCRIBE replayed on a node that lost the slot
            logger.warning("Sharded pub/sub on %s refused a subscription (%r); re-homing", self.node_name, exc)
            await self.owner.rehome(self, list(self.names), time.monotonic())
            return None, True
        except Exception:  # a bug must not silence this node's channels for good
            logger.exception("Unexpected error reading sharded pub/sub from %s", self.node_name)
            await asyncio.sleep(READ_WAIT)
            return None, False
        self.down = False
        return message, False

    async def _handle(self, message: dict[str, Any]) -> bool:
        """Deliver one message; True when it re-homed a channel the server dropped on its own."""
        kind = message["type"]
        name = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        if kind == "smessage":
            self.owner.on_message(name, message["data"])
        elif kind == "sunsubscribe":
            if self.leaving[name] > 0:
                self.leaving[name] -= 1
                if not self.leaving[name]:
                    del self.leaving[name]
            elif name in self.names:
                # Not asked for: the server dropped us because the slot moved to another shard.
                _forget_locally(self.pubsub, name)
                await self.owner.rehome(self, [name], time.monotonic())
                return True
        return False

    async def close(self) -> None:
        self.closing = True
        if self.task is not None:
            self.task.cancel()
            # Bounded: the loop sees ``closing`` within one READ_WAIT; closing the connection below ends a read
            # that is still blocked after that.
            await asyncio.wait({self.task}, timeout=2 * READ_WAIT)
            if self.task.done() and not self.task.cancelled():
                self.task.exception()  # retrieved: a read loop that ended on an error was logged by it
            self.task = None
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose(close_connection_pool=True)


class ShardedSubscriber:
    """Which master each subscribed name lives on, and one :class:`_NodeSubscriber` per such master."""

    def __init__(self, cluster: Any, layer: ClusterLoopLayer):
        self.cluster = cluster
        self.slot_map = SlotMap(cluster)
        self.layer = layer
        self.nodes: dict[str, _NodeSubscriber] = {}
        self.home: dict[str, str] = {}  # name -> node name
        self.lock = asyncio.Lock()
        # While channels move to a new owner, what it already delivers is held back until the sockets got
        # the resubscription notice, so their replay comes before the live messages that follow it.
        self.held: list[tuple[str, bytes]] | None = None

    def on_message(self, name: str, data: bytes) -> None:
        if self.held is not None:
            self.held.append((name, data))
        else:
            self.layer.on_message(name, data)

    def on_resubscribed(self) -> None:
        self.layer.notify_resubscribed()

    def _subscriber(self, node: Any) -> _NodeSubscriber:
        subscriber = self.nodes.get(node.name)
        if subscriber is None:
            subscriber = self.nodes[node.name] = _NodeSubscriber(self, node)
        return subscriber

    async def subscribe(self, name: str) -> None:
        async with self.lock:
            if name not in self.home:
                await self._subscribe_on_owner(name)

    async def _subscribe_on_owner(self, name: str) -> None:
        await self.cluster.initialize()  # the asyncio client loads the slot map lazily; a no-op once loaded
        node = self.cluster.get_node_from_key(name)
        await self._subscriber(node).ssubscribe(name)
        self.home[name] = node.name

    async def unsubscribe(self, name: str) -> None:
        async with self.lock:
            node_name = self.home.pop(name, None)
            subscriber = self.nodes.get(node_name) if node_name else None
            if subscriber is not None and node_name is not None:
                await subscriber.sunsubscribe(name)
                if not subscriber.names:
                    await self.nodes.pop(node_name).close()

    async def rehome(self, subscriber: _NodeSubscriber, names: list[str], failed_at: float) -> None:
        """Refresh the slot map and move ``names`` (held by ``subscriber``) to their current owners.

        Names whose owner did not change stay: redis-py re-subscribes them when the node answers again
        (and :func:`watch_reconnects` announces it). Runs in the subscriber's read task, so the pause
        below also paces the retries against a master that is down and not yet replaced.
        """
        delay = RECOVERY_DELAY
        while True:
            try:
                await self.slot_map.read_since(failed_at)  # shared by the nodes that failed meanwhile
                break
            except SLOT_MAP_ERRORS as exc:
                logger.warning("Cluster slot map refresh failed (%r); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECOVERY_DELAY_CAP)
                failed_at = time.monotonic()
        moved = False
        async with self.lock:
            self.held = []
            try:
                moved = await self._move(subscriber, names)
            finally:
                held, self.held = self.held, None
                if moved:
                    self.on_resubscribed()
                for name, data in held:
                    self.layer.on_message(name, data)
        if not moved and subscriber.names:
            await asyncio.sleep(delay)  # same owner, still down: wait before redis-py retries the node

    async def _move(self, subscriber: _NodeSubscriber, names: list[str]) -> bool:
        moved = False
        for name in names:
            if self.home.get(name) != subscriber.node_name:
                continue  # unsubscribed (or already moved) meanwhile
            node = self.cluster.get_node_from_key(name)
            if node.name == subscriber.node_name:
                continue
            subscriber.names.discard(name)
            _forget_locally(subscriber.pubsub, name)
            try:
                await self._subscribe_on_owner(name)
                moved = True
            except LINK_ERRORS as exc:  # the new owner is not reachable yet: keep it here, retry later
                logger.warning("Could not subscribe %s on %s yet (%r)", name, node.name, exc)
                subscriber.names.add(name)
                self.home[name] = subscriber.node_name
        if not subscriber.names and self.nodes.get(subscriber.node_name) is subscriber:
            del self.nodes[subscriber.node_name]
            subscriber.task = None  # we are running in it: its read loop ends when this returns
            asyncio.ensure_future(subscriber.close())
        return moved

    async def close(self) -> None:
        async with self.lock:
            nodes, self.nodes, self.home = list(self.nodes.values()), {}, {}
        for subscriber in nodes:
            await subscriber.close()


class ClusterLoopLayer(ResubscribeNotices):
    """The layer's state in one event loop (redis.asyncio clients are bound to their loop)."""

    def __init__(self, facade: ClusterChannelLayer):
        self.facade = facade
        self.prefix = facade.prefix
        self.channels: dict[str, asyncio.Queue] = {}
        self.groups: dict[str, set[str]] = {}  # group's pub/sub name -> local channels
        self.resubscribe_listeners: set[str] = set()
        self.overflowed: set[str] = set()  # listener channels that dropped an event for lack of room
        self._subscriber: ShardedSubscriber | None = None
        self._slot_map: SlotMap | None = None

    def serialize(self, message: dict) -> bytes:
        return self.facade.serialize(message)

    @property
    def cluster(self) -> Any:
        client = get_async_redis(self.facade.alias)
        if not hasattr(client, "get_node_from_key"):
            msg = (
                f"realtime_app.cluster_layer.ClusterChannelLayer needs a Redis Cluster alias; "
                f"WINKR_REDIS[{self.facade.alias!r}] is not one (use realtime_app.layers.RedisPubSubChannelLayer)."
            )
            raise ImproperlyConfigured(
                msg)
        return client

    def _slot_map_of(self, cluster: Any) -> SlotMap:
        if self._slot_map is None or self._slot_map.cluster is not cluster:  # a new client after a reset
            self._slot_map = SlotMap(cluster)
        return self._slot_map

    @property
    def subscriber(self) -> ShardedSubscriber:
        if self._subscriber is None:
            self._subscriber = ShardedSubscriber(self.cluster, self)
        return self._subscriber

    def group_name(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"

    def on_message(self, name: str, data: bytes) -> None:
        targets = [name] if name in self.channels else list(self.groups.get(name, ()))
        for channel in targets:
            queue = self.channels.get(channel)
            if queue is None:
                continue
            if queue.full():
                LAYER_DROPPED.labels("cluster").inc()
                logger.warning("Channel %s is %d events behind: dropped one", channel, queue.maxsize)
                if channel in self.resubscribe_listeners:
                    self.overflowed.add(channel)  # told to replay once it has room again (receive)
                continue
            queue.put_nowait(data)

    async def _open(self, channel: str) -> None:
        self.channels[channel] = asyncio.Queue(maxsize=self.facade.get_capacity(channel))
        await self.subscriber.subscribe(channel)

    async def _spublish(self, name: str, payload: bytes) -> None:
        """SPUBLISH on ``name``'s shard; after a link error, once more on a slot map read since it began.

        redis-py retries on the map it has, and reads it again at most once a second: a publish just after
        a failover, within that second, goes to the dead master again, though the failover is over and the
        subscribers (their own clients, often other processes) have moved and replayed what they missed.
        Failing it would lose that message to every open socket. A copy that went out twice (the link broke
        after the server took it, as with redis-py's own retry) is shown once (realtime_app.resume).
        """
        cluster, started = self.cluster, time.monotonic()
        try:
            await cluster.spublish(name, payload)
        except LINK_ERRORS as exc:
            if isinstance(exc.__cause__, RedisClusterException):  # no node answered redis-py's own last read
                raise
            try:
                await self._slot_map_of(cluster).read_since(started)
            except SLOT_MAP_ERRORS:
                raise exc from None  # the publish's own error: still no node to read the map from
            await cluster.spublish(name, payload)

    async def send(self, channel: str, message: dict) -> None:
        self.facade.require_valid_channel(channel)
        await self._spublish(channel, self.facade.serialize(message))

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        await self._open(channel)
        return channel

    async def receive(self, channel: str) -> dict:
        self.facade.require_valid_channel(channel)
        if channel not in self.channels:
            await self._open(channel)
        queue = self.channels[channel]
        try:
            data = await queue.get()
            if channel in self.overflowed:  # one slot just freed, and no await before the put
                self.overflowed.discard(channel)
                queue.put_nowait(self.serialize(RESUBSCRIBED_EVENT))
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # As in channels_redis: a cancelled receive means the consumer is gone, so drop its channel.
            await self._drop_channel(channel)
            raise
        return self.facade.deserialize(data)

    async def _drop_channel(self, channel: str) -> None:
        if self.channels.pop(channel, None) is None:
            return
        self.resubscribe_listeners.discard(channel)
        self.overflowed.discard(channel)
        try:
            await self.subscriber.unsubscribe(channel)
        except BaseException:  # never replace the CancelledError being raised
            logger.exception("Could not unsubscribe channel %s", channel)

    async def group_add(self, group: str, channel: str) -> None:
        self.facade.require_valid_group_name(group)
        self.facade.require_valid_channel(channel)
        if channel not in self.channels:
            msg = (
                "group_add() takes a channel that exists in-process "
                "(self.channel_layer.group_add(group, self.channel_name))."
            )
            raise RuntimeError(msg)
        name = self.group_name(group)
        self.groups.setdefault(name, set()).add(channel)
        await self.subscriber.subscribe(name)

    async def group_discard(self, group: str, channel: str) -> None:
        self.facade.require_valid_group_name(group)
        name = self.group_name(group)
        members = self.groups.get(name)
        if not members or channel not in members:
            return
        members.discard(channel)
        if not members:
            del self.groups[name]
            await self.subscriber.unsubscribe(name)

    async def group_send(self, group: str, message: dict) -> None:
        self.facade.require_valid_group_name(group)
        await self._spublish(self.group_name(group), self.facade.serialize(message))

    async def group_send_many(self, groups: Any, message: dict) -> None:
        """One message to several groups: serialized once, the SPUBLISHes (one per group's slot) concurrent."""
        for group in groups:
            self.facade.require_valid_group_name(group)
        payload = self.facade.serialize(message)
        await asyncio.gather(*(self._spublish(self.group_name(group), payload) for group in groups))

    async def flush(self) -> None:
        self.channels, self.groups, self.resubscribe_listeners, self.overflowed = {}, {}, set(), set()
        if self._subscriber is not None:
            await self._subscriber.close()
            self._subscriber = None

    close = flush


class ClusterChannelLayer(BaseChannelLayer):
    """``CHANNEL_LAYERS`` backend: ``{"BACKEND": "realtime_app.cluster_layer.ClusterChannelLayer",
    "CONFIG": {"aliases": ["state"], "prefix": "winkr:asgi"}}`` (one WINKR_REDIS alias in cluster mode)."""

    extensions = ["groups", "flush"]

    def __init__(self, *, aliases: Any = ("state",), prefix: str = "asgi", expiry: int = 60, capacity: int = 100,
                 channel_capacity: Any = None, symmetric_encryption_keys: Any = None,
                 serializer_format: str = "msgpack", **kwargs: Any) -> None:
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        aliases = [aliases] if isinstance(aliases, str) else list(aliases)
        if len(aliases) != 1:
            msg = (
                "ClusterChannelLayer takes exactly one WINKR_REDIS alias: a Redis Cluster "
                "shards by itself."
            )
            raise ImproperlyConfigured(msg)
        self.alias = aliases[0]
        self.prefix = prefix
        self._serializer = registry.get_serializer(serializer_format,
                                                   symmetric_encryption_keys=symmetric_encryption_keys)
        self._layers: dict[Any, ClusterLoopLayer] = {}

    def serialize(self, message: dict) -> bytes:
        return self._serializer.serialize(message)

    def require_valid_channel(self, channel: str) -> None:
        """Channels' name rules, applied after our prefix (which may hold a ':' like every winkr key)."""
        if isinstance(channel, str) and channel.startswith(self.prefix):
            channel = channel[len(self.prefix):]
        self.require_valid_channel_name(channel)

    def deserialize(self, data: bytes) -> dict:
        return self._serializer.deserialize(data)

    def loop_layer(self) -> ClusterLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = ClusterLoopLayer(self)
            _close_with_loop(self, loop)
        return layer

    # The Channels layer API, each on this event loop's layer.
    async def send(self, channel: str, message: dict) -> None:
        await self.loop_layer().send(channel, message)

    async def receive(self, channel: str) -> dict:
        return await self.loop_layer().receive(channel)

    async def new_channel(self, prefix: str = "specific.") -> str:
        return await self.loop_layer().new_channel(prefix)

    async def group_add(self, group: str, channel: str) -> None:
        await self.loop_layer().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self.loop_layer().group_discard(group, channel)

    async def group_send(self, group: str, message: dict) -> None:
        await self.loop_layer().group_send(group, message)

    async def group_send_many(self, groups: Any, message: dict) -> None:
        """Extension used by realtime_app.delivery: one message to several groups, published once."""
        await self.loop_layer().group_send_many(groups, message)

    async def flush(self) -> None:
        await self.loop_layer().flush()

    async def close(self) -> None:
        layer = self._layers.pop(asyncio.get_running_loop(), None)
        if layer is not None:
            await layer.flush()

    def add_resubscribe_listener(self, channel: str) -> None:
        self.loop_layer().add_resubscribe_listener(channel)

def _close_with_loop(facade: ClusterChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
    """Flush a loop's layer when that loop closes (async_to_sync threads), as channels_redis does."""
    original = loop.close

    def close(*args: Any, **kwargs: Any) -> None:
        layer = facade._layers.pop(loop, None)
        if layer is not None and not loop.is_running():
            with contextlib.suppress(Exception):
                loop.run_until_complete(layer.flush())
        loop.close = original  # type: ignore[method-assign]  # undo the patch below
        original(*args, **kwargs)

    # Patched on the instance, as channels_redis does: asyncio has no hook for "this loop closes".
    loop.close = close  # type: ignore[method-assign]

