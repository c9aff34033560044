"""Fan-out: one ``group_send`` to a user's 5 open devices, and to a group of 100 sockets, until all received.

Every layer in the same run, in-process (a sender layer object and a receiver layer object, as two
daphne processes would hold; the receiver holds every socket's channel):
- standalone Redis: channels_redis' RedisPubSubChannelLayer and RedisChannelLayer, and ours
  (realtime_app.layers.RedisPubSubChannelLayer, channels_redis' pub/sub with the resubscription notice);
- a local 3-master Redis Cluster: ours (realtime_app.cluster_layer, SPUBLISH to the group's shard) and
  channels_redis' pub/sub layer on one node of it (what a Cluster deployment had before: PUBLISH is
  broadcast to every node over the cluster bus).
The figures per case are µs per fan-out (send + all N receives): block means timed alternately (the
harness' comparison), and p50 / p99 of single fan-outs with the layers interleaved.
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import tempfile
import time
from pathlib import Path

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.test.utils import override_settings

from caching_app.devservers.redis_servers import LocalCluster
from realtime_app.cluster_layer import ClusterChannelLayer
from realtime_app.layers import RedisPubSubChannelLayer as OurPubSubLayer

SIZES = {"user with 5 devices": 5, "group of 100 sockets": 100}


class FanOut:
    """A sender layer and a receiver layer with ``size`` channels in one group."""

    def __init__(self, make_layer, size: int):
        self.sender, self.receiver = make_layer(), make_layer()
        self.size = size

    async def open(self) -> None:
        self.channels = [await self.receiver.new_channel() for _ in range(self.size)]
        for channel in self.channels:
            await self.receiver.group_add("bench.fanout", channel)

    async def once(self) -> None:
        await self.sender.group_send("bench.fanout", {"type": "notification.deliver", "n": 1})
        await asyncio.gather(*(self.receiver.receive(channel) for channel in self.channels))

    async def close(self) -> None:
        for channel in self.channels:
            await self.receiver.group_discard("bench.fanout", channel)
        await self.sender.flush()
        await self.receiver.flush()


def measure(bench, loop, where: str, layers: dict[str, object], ours: str) -> dict[str, float]:
    """One comparison per size: ``ours`` against each other layer; returns median µs per layer (last size)."""
    medians: dict[str, float] = {}
    number = 20 if bench.quick else 200
    for label, size in SIZES.items():
        paths = {name: FanOut(make, size) for name, make in layers.items()}
        try:
            for path in paths.values():
                loop.run_until_complete(path.open())
            for name, path in paths.items():
                if name == ours:
                    continue
                bench.compare("Fan-out", f"{where}, {label}: {ours} against {name}",
                              ours=lambda p=paths[ours]: loop.run_until_complete(p.once()),
                              anchor=lambda p=path: loop.run_until_complete(p.once()), anchor_name=name,
                              number=number)
            # Single fan-outs, the layers interleaved so a load spike on the shared machine hits all of them.
            timed: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(number):
                for name, path in paths.items():
                    start = time.perf_counter()
                    loop.run_until_complete(path.once())
                    timed[name].append((time.perf_counter() - start) * 1e6)
            for name, samples in timed.items():
                samples.sort()
                medians[f"{name}, {size}"] = statistics.median(samples)
                bench.figure("Fan-out", f"{where}, {label}, {name}: p50 / p99",
                             f"{statistics.median(samples):.0f} / {samples[int(0.99 * (len(samples) - 1))]:.0f}",
                             "µs per fan-out")
        finally:
            for path in paths.values():
                loop.run_until_complete(path.close())
    return medians


def cluster_settings(seeds: list[str]) -> dict:
    redis_settings = copy.deepcopy(settings.WINKR_REDIS)
    for options in redis_settings.values():
        options.update(MODE="cluster", CLUSTER_NODES=seeds, URL=f"redis://{seeds[0]}/0")
    return redis_settings


def run(bench) -> None:
    loop = asyncio.new_event_loop()
    try:
        url = bench.redis_url
        measure(bench, loop, "standalone", {
            "ours (pub/sub + resubscribe notice)": lambda: OurPubSubLayer(prefix="bench"),
            "channels_redis RedisPubSubChannelLayer": lambda: RedisPubSubChannelLayer(hosts=[url], prefix="bench"),
            "channels_redis RedisChannelLayer": lambda: RedisChannelLayer(hosts=[url], prefix="bench",
                                                                          capacity=1000),
        }, ours="ours (pub/sub + resubscribe notice)")
        with LocalCluster(Path(tempfile.mkdtemp(prefix="bench-fanout-"))) as cluster:
            node = f"redis://{cluster.seeds[0]}/0"
            with override_settings(WINKR_REDIS=cluster_settings(cluster.seeds)):
                measure(bench, loop, "3-master Cluster", {
                    "ours (ClusterChannelLayer, SPUBLISH)": lambda: ClusterChannelLayer(prefix="bench"),
                    "channels_redis RedisPubSubChannelLayer on one node": lambda: RedisPubSubChannelLayer(
                        hosts=[node], prefix="bench"),
                }, ours="ours (ClusterChannelLayer, SPUBLISH)")
    finally:
        loop.close()
