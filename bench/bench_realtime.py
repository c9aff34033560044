"""Realtime: one-to-one chat delivery through daphne + our consumer + Redis, beside raw channels_redis.

Ours: user A's `websockets` client sends a ``chat.message`` frame to a daphne process; the consumer
validates it, XADDs it to the conversation Stream, and group_sends it; user B's socket on the same
daphne receives it. Anchor: a bare ``group_send`` + ``receive`` on the same channels_redis layer class,
in-process, no server. Both run for RedisPubSubChannelLayer and RedisChannelLayer, in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from importlib import import_module
from pathlib import Path

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from websockets.asyncio.client import connect

from caching_app.devservers.asgi_servers import AsgiServer

LAYERS = {"pubsub": RedisPubSubChannelLayer, "core": RedisChannelLayer}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def session_for(username: str) -> tuple[int, str]:
    user, _ = get_user_model().objects.get_or_create(username=username)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return user.pk, session.session_key


class RawPath:
    """channels_redis alone: group_send to a group one receiver channel is in, then receive."""

    def __init__(self, layer_class: type, redis_url: str):
        self.layer = layer_class(hosts=[redis_url], prefix="bench")

    async def open(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add("bench.one", self.channel)

    async def once(self) -> None:
        await self.layer.group_send("bench.one", {"type": "chat.deliver", "text": "hello"})
        await self.layer.receive(self.channel)

    async def burst(self, count: int) -> float:
        start = time.perf_counter()
        for i in range(count):
            await self.layer.group_send("bench.one", {"type": "chat.deliver", "n": i})
        for _ in range(count):
            await self.layer.receive(self.channel)
        return count / (time.perf_counter() - start)

    async def close(self) -> None:
        await self.layer.flush()


class DaphnePath:
    """Our consumer path: two `websockets` clients on one daphne process."""

    def __init__(self, port: int, sender: tuple[int, str], recipient: tuple[int, str]):
        self.port, self.sender, self.recipient = port, sender, recipient

    async def _socket(self, session: str):
        return await connect(f"ws://127.0.0.1:{self.port}/ws/chat/", origin=f"http://127.0.0.1:{self.port}",
                             additional_headers={"Cookie": f"sessionid={session}"}, max_queue=None)

    async def open(self) -> None:
        self.a = await self._socket(self.sender[1])
        self.b = await self._socket(self.recipient[1])
        self.frame = json.dumps({"type": "chat.message", "to": self.recipient[0], "text": "hello"})

    async def once(self) -> None:
        await self.a.send(self.frame)
        await self.b.recv()
        await self.a.recv()  # the ack (already there by now)

    async def burst(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            await self.a.send(self.frame)
        for _ in range(count):
            await self.b.recv()
        elapsed = time.perf_counter() - start
        for _ in range(count):
            await self.a.recv()
        return count / elapsed

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()


def latencies(loop: asyncio.AbstractEventLoop, path: object, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        loop.run_until_complete(path.once())
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def run(bench) -> None:
    layers = ["pubsub"] if bench.quick else ["pubsub", "core"]
    samples = 60 if bench.quick else 1000
    burst = 100 if bench.quick else 1000
    sender, recipient = session_for("bench-alice"), session_for("bench-bob")
    loop = asyncio.new_event_loop()
    p50s: dict[str, list[float]] = {"ours (daphne + consumer)": [], "raw group_send": []}
    try:
        for name in layers:
            server = AsgiServer(Path(tempfile.mkdtemp(prefix="bench-rt-")), {
                "REDIS_URL": bench.redis_url, "DATABASE_URL": os.environ["DATABASE_URL"],
                "REALTIME_CHANNEL_LAYER": name, "CHAT_RATE_LIMIT_REQUESTS": "1000000000",
                "REALTIME_FRAME_RATE_FRAMES": "1000000000", "CHAT_STREAM_MAXLEN": "1000",
            }).start()
            ours, raw = DaphnePath(server.port, sender, recipient), RawPath(LAYERS[name], bench.redis_url)
            try:
                loop.run_until_complete(ours.open())
                loop.run_until_complete(raw.open())
                label = f"{name} layer"
                bench.compare("Realtime", f"one-to-one delivery, {label}",
                              ours=lambda o=ours: loop.run_until_complete(o.once()),
                              anchor=lambda r=raw: loop.run_until_complete(r.once()),
                              anchor_name=f"raw channels_redis group_send+receive ({name})",
                              number=max(40, samples // 10))
                ours_lat, raw_lat = latencies(loop, ours, samples), latencies(loop, raw, samples)
                for who, lat in (("ours", ours_lat), ("raw group_send", raw_lat)):
                    bench.figure("Realtime", f"{label}: {who} delivery p50", round(percentile(lat, 0.5), 1), "µs")
                    bench.figure("Realtime", f"{label}: {who} delivery p99", round(percentile(lat, 0.99), 1), "µs")
                p50s["ours (daphne + consumer)"].append(statistics.median(ours_lat))
                p50s["raw group_send"].append(statistics.median(raw_lat))
                # The list-based core layer holds at most its capacity per channel (channels_redis drops or
                # refuses beyond it), so its bursts stay under it, ours and raw alike.
                layer_burst = burst if name == "pubsub" else min(burst, 90)
                bench.figure("Realtime", f"{label}: ours messages/s (burst of {layer_burst})",
                             round(loop.run_until_complete(ours.burst(layer_burst))), "msg/s")
                bench.figure("Realtime", f"{label}: raw group_send messages/s (burst of {min(burst, 90)})",
                             round(loop.run_until_complete(raw.burst(min(burst, 90)))), "msg/s")
            finally:
                loop.run_until_complete(ours.close())
                loop.run_until_complete(raw.close())
                server.stop()
            bench.flush()
            sender, recipient = session_for("bench-alice"), session_for("bench-bob")
        if len(layers) > 1:
            bench.chart("realtime_latency.png", "One-to-one delivery p50 by channel layer", list(range(len(layers))),
                        p50s, xlabel="layer (0 = pubsub, 1 = RedisChannelLayer)", ylabel="µs")
    finally:
        loop.close()
