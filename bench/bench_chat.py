"""Chat hot path: our ``ws/chat/`` against the Channels tutorial consumer, in one daphne, rounds alternated.

One daphne process serves both (bench/asgi.py): the same channel layer (the default, channels_redis' pub/sub
layer on standalone), the same session-cookie authentication and origin check. Two real `websockets` clients,
users A and B, hold one socket each per path. Latency: A sends one message, the clock stops when B has it
(our ack to A is read off the clock). Burst: A sends a burst back to back, the clock stops when B has the last
one. Ours does all it does in production (Stream storage, the per-user rate limit, idempotent ``client_id``,
the partner index, the frame limits); only the limits' thresholds are raised past what the burst reaches.
Targets (issue 18): p50 latency at most 1.2x the tutorial's, burst throughput at least 0.8x.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from bench.bench_realtime import percentile, session_for
from caching_app.devservers.asgi_servers import AsgiServer

# The project's ASGI application plus the tutorial route (bench/asgi.py), under the same daphne.
APPLICATION = "bench.asgi:application"
LATENCY_TARGET, THROUGHPUT_TARGET = 1.2, 0.8


class ChatPath:
    """One path (ours or the tutorial's): a socket for A and one for B on ``url``."""

    def __init__(self, name: str, url: str, port: int, a: tuple[int, str], b: tuple[int, str], acked: bool):
        self.name, self.url, self.port, self.a_user, self.b_user, self.acked = name, url, port, a, b, acked
        self.sent = 0
        self.latencies: list[float] = []
        self.rates: list[float] = []

    async def _socket(self, session: str):
        return await connect(f"ws://127.0.0.1:{self.port}{self.url}", origin=f"http://127.0.0.1:{self.port}",
                             additional_headers={"Cookie": f"sessionid={session}"}, max_queue=None)

    async def open(self) -> None:
        self.a = await self._socket(self.a_user[1])
        self.b = await self._socket(self.b_user[1])

    def frame(self) -> str:
        self.sent += 1
        frame = {"type": "chat.message", "to": self.b_user[0], "text": f"hello {self.sent}"}
        if self.acked:
            frame["client_id"] = f"bench-{self.sent}"  # what a real client sends: resends are idempotent
        return json.dumps(frame)

    async def drain_acks(self, count: int) -> None:
        for _ in range(count if self.acked else 0):
            ack = json.loads(await self.a.recv())
            if ack.get("type") != "chat.ack":
                msg = f"{self.name}: expected an ack, got {ack}"
                raise RuntimeError(msg)

    async def once(self) -> float:
        frame = self.frame()
        start = time.perf_counter()
        await self.a.send(frame)
        received = await self.b.recv()
        elapsed = (time.perf_counter() - start) * 1e6
        if "hello" not in received:
            msg = f"{self.name}: B got {received[:200]}"
            raise RuntimeError(msg)
        await self.drain_acks(1)
        return elapsed

    async def burst(self, count: int) -> float:
        frames = [self.frame() for _ in range(count)]
        start = time.perf_counter()
        for frame in frames:
            await self.a.send(frame)
        for _ in range(count):
            await self.b.recv()
        elapsed = time.perf_counter() - start
        await self.drain_acks(count)
        return count / elapsed

    async def round(self, samples: int, burst: int) -> None:
        self.latencies += [await self.once() for _ in range(samples)]
        self.rates.append(await self.burst(burst))

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()


def run(bench) -> None:
    rounds, samples, burst = (2, 20, 20) if bench.quick else (6, 500, 1000)
    a, b = session_for("bench-chat-a"), session_for("bench-chat-b")
    server = AsgiServer(Path(tempfile.mkdtemp(prefix="bench-chat-")), {
        "REDIS_URL": bench.redis_url, "DATABASE_URL": os.environ["DATABASE_URL"],
        "CHAT_RATE_LIMIT_REQUESTS": "1000000000", "REALTIME_FRAME_RATE_FRAMES": "1000000000",
        "CHAT_STREAM_MAXLEN": "1000",
    }, application=APPLICATION).start()
    ours = ChatPath("ours", "/ws/chat/", server.port, a, b, acked=True)
    tutorial = ChatPath("tutorial", "/ws/bench/tutorial/", server.port, a, b, acked=False)
    loop = asyncio.new_event_loop()
    try:
        for path in (ours, tutorial):
            loop.run_until_complete(path.open())
            loop.run_until_complete(path.round(max(5, samples // 10), max(5, burst // 10)))  # warm up
            path.latencies.clear(), path.rates.clear()
        for index in range(rounds):
            for path in (ours, tutorial) if index % 2 == 0 else (tutorial, ours):
                loop.run_until_complete(path.round(samples, burst))
        for path in (ours, tutorial):
            loop.run_until_complete(path.close())
    finally:
        loop.close()
        server.stop()
    report(bench, ours, tutorial, rounds, samples, burst)


def report(bench, ours: ChatPath, tutorial: ChatPath, rounds: int, samples: int, burst: int) -> None:
    group = "Chat hot path"
    stats = {}
    for path in (ours, tutorial):
        stats[path.name] = (percentile(path.latencies, 0.5), percentile(path.latencies, 0.99),
                            statistics.median(path.rates))
        p50, p99, rate = stats[path.name]
        bench.figure(group, f"{path.name}: p50 latency A -> B", round(p50, 1), "µs")
        bench.figure(group, f"{path.name}: p99 latency A -> B", round(p99, 1), "µs")
        bench.figure(group, f"{path.name}: burst throughput ({burst} messages, median of {rounds} rounds)",
                     round(rate), "msg/s")
    latency_ratio = stats["ours"][0] / stats["tutorial"][0]
    throughput_ratio = stats["ours"][2] / stats["tutorial"][2]
    bench.figure(group, "p50 latency, ours / tutorial", round(latency_ratio, 2), "x", target=f"≤ {LATENCY_TARGET}x",
                 met=latency_ratio <= LATENCY_TARGET)
    bench.figure(group, "p99 latency, ours / tutorial", round(stats["ours"][1] / stats["tutorial"][1], 2), "x")
    bench.figure(group, "burst throughput, ours / tutorial", round(throughput_ratio, 2), "x",
                 target=f"≥ {THROUGHPUT_TARGET}x", met=throughput_ratio >= THROUGHPUT_TARGET)
    names = {"ours": "ours (ws/chat/)", "tutorial": "Channels tutorial consumer"}
    bench.bars("chat_latency.png", f"Chat A -> B latency, one daphne ({rounds} alternated rounds × {samples})",
               ["p50", "p99"], {names[n]: [s[0], s[1]] for n, s in stats.items()}, ylabel="µs")
    bench.bars("chat_throughput.png", f"Chat burst throughput ({burst} messages A -> B)", ["msg/s"],
               {names[n]: [s[2]] for n, s in stats.items()}, ylabel="messages per second")
