"""Load test: the whole stack under one daphne process against a bare DRF APIView, on loopback.

1. baseline: ``GET /bench/bare/`` (bench/urls.py: a DRF APIView with no auth, no throttles, no Redis);
2. mixed: JWT-authenticated requests (revocation check), winkr's throttles on every request, cached
   profile GETs, match recommendations, the device-session list, the rate-limit status, ``/api/auth/me/``;
   (1) and (2) alternate, ``rounds`` times each, and the ratio mixed/bare is the headline (target >= 0.85);
3. the mixed load again while N WebSocket clients chat in pairs through ``ws/chat/`` (closed loop:
   send, wait for the partner to receive it, next), giving messages/s and delivery p50/p99;
4. the mixed load against a local 3-master Redis Cluster (``REDIS_MODE=cluster``).

Also issue 15's measurement (the authenticated, throttled, cached ``GET /api/profiles/me/`` against the
bare view, alternating rounds; target >= 0.9, mixed >= 0.85) and the same stack under daphne, uvicorn
and granian, WebSockets included (``servers`` extra).

The load generator is wrk when installed (``wrk -t1 -c16``), else bench/loadgen.py's asyncio client,
which shares the cores with the server: the report says which one ran. Every run is bounded in time
(``seconds``) and the chat in message count too.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from websockets.asyncio.client import connect

from bench.loadgen import LoadResult, RequestSpec, load_generator, run_load
from caching_app.devservers.asgi_servers import SERVER_COMMANDS, AsgiServer, server_available
from caching_app.devservers.redis_servers import LocalCluster

PASSWORD = "bench-Load-password-1"  # noqa: S105 - a throwaway user in a throwaway database
TARGET_RATIO = 0.85  # mixed workload / bare view (issue 15)
PROFILE_TARGET_RATIO = 0.9  # authenticated, throttled, cached GET /api/profiles/me/ / bare view (issue 15)
CONNECTIONS = 16  # wrk -t1 -c16, as issue 15 measures


def make_users(count: int) -> list[int]:
    """Users with a profile each, in the bench SQLite database the daphne processes share."""
    from django.contrib.auth import get_user_model

    from winkr.demo.models import Profile

    model = get_user_model()
    ids = []
    for index in range(count):
        user = model.objects.filter(username=f"bench-load-{index}").first()
        if user is None:  # created in one save: a later save would tombstone the JWT user-row cache for a while
            user = model.objects.create_user(username=f"bench-load-{index}", password=PASSWORD)
            Profile.objects.update_or_create(user=user, defaults={  # the user came with an empty profile
                "display_name": f"Load {index}", "bio": "b" * 200, "gender": "woman",
                "interests": ["hiking", "jazz", "chess"]})
        ids.append(user.pk)
    return ids


def login(base_url: str, user_index: int) -> str:
    """An access token from the real login endpoint (so the device session exists in that server's Redis)."""
    body = json.dumps({"username": f"bench-load-{user_index}", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base_url}/api/auth/token/", data=body,  # noqa: S310 - loopback
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["access"]


def mixed_specs(user_ids: list[int], tokens: list[str]) -> list[RequestSpec]:
    """One round of the mixed workload per user, interleaved so consecutive requests are different users."""
    per_user = []
    for position, (user_id, token) in enumerate(zip(user_ids, tokens, strict=True)):
        other = user_ids[(position + 1) % len(user_ids)]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        paths = [f"/api/profiles/{other}/", "/api/matches/", f"/api/profiles/{user_id}/", "/api/sessions/",
                 "/api/profiles/me/", "/api/ratelimit/status/", "/api/auth/me/"]
        per_user.append([RequestSpec(path, headers) for path in paths])
    return [spec for step in zip(*per_user, strict=True) for spec in step]


def me_specs(tokens: list[str]) -> list[RequestSpec]:
    """The authenticated, throttled, cached GET of issue 15, one per user in turn."""
    return [RequestSpec("/api/profiles/me/", {"Authorization": f"Bearer {token}", "Accept": "application/json"})
            for token in tokens]


def measured(server: AsgiServer, specs: list[RequestSpec], *, seconds: float, connections: int
             ) -> tuple[LoadResult, float]:
    """One load run and the server's CPU time per request in µs (steadier than req/s on a shared machine)."""
    cpu_before = server.cpu_seconds()
    result = run_load(server.url, specs, seconds=seconds, connections=connections)
    cpu_us = (server.cpu_seconds() - cpu_before) / max(1, result.requests) * 1e6
    return result, cpu_us


def profile_vs_bare(bench, server: AsgiServer, bare: list[RequestSpec], me: list[RequestSpec], *, seconds: float,
                    rounds: int, connections: int) -> None:
    """Issue 15's measurement: bare APIView vs GET /api/profiles/me/, alternating rounds, same process."""
    check_ok(server.url, me + me)  # the profiles exist and are cached: every request below is a HIT
    runs = []
    for _ in range(rounds):
        runs.append((measured(server, bare, seconds=seconds, connections=connections),
                     measured(server, me, seconds=seconds, connections=connections)))
    best_bare = max(b.rps for (b, _), _ in runs)
    best_me = max(m.rps for _, (m, _) in runs)
    ratio = best_me / best_bare if best_bare else 0.0
    cpu_bare = min(c for (_, c), _ in runs)
    cpu_me = min(c for _, (_, c) in runs)
    errors = sum(b.errors + m.errors for (b, _), (m, _) in runs)
    group = "Load: profile"
    bench.figure(group, f"GET /api/profiles/me/ (JWT, user throttle, cache HIT) / bare APIView requests/s "
                 f"(best of {rounds} alternating rounds, {runs[0][0][0].tool} -t1 -c{connections}, {seconds:.0f} s)",
                 f"{ratio:.3f}", "x", target=f">= {PROFILE_TARGET_RATIO}", met=ratio >= PROFILE_TARGET_RATIO)
    bench.figure(group, "every round, bare then profile", "; ".join(
        f"{b.rps:.0f} / {m.rps:.0f}" for (b, _), (m, _) in runs), "req/s")
    bench.figure(group, "server CPU per request, bare / profile (least of the rounds)",
                 f"{cpu_bare:.0f} / {cpu_me:.0f}", "µs", target="report (CPU ratio "
                 f"{cpu_bare / cpu_me if cpu_me else 0:.2f}x: steadier than req/s on a shared machine)")
    bench.figure(group, "non-2xx or socket errors", errors, "responses", target="0", met=errors == 0)


def compare_servers(bench, workdir: Path, server_env: dict[str, str], user_ids: list[int], http_users: int, *,
                    seconds: float, connections: int) -> None:
    """The same stack under daphne, uvicorn and granian: bare, profile and mixed req/s, then chat over WebSockets."""
    group = "Load: ASGI servers"
    rows = {}
    for kind in SERVER_COMMANDS:
        if not server_available(kind):
            bench.figure(group, f"{kind}", "not installed (pip install -e '.[servers]')", "-")
            continue
        try:
            with AsgiServer(workdir, server_env, kind) as server:
                tokens = [login(server.url, index) for index in range(http_users + 2)]
                bare = [RequestSpec("/bench/bare/", {"Accept": "application/json"})]
                me = me_specs(tokens[:http_users])
                mixed = mixed_specs(user_ids[:http_users], tokens[:http_users])
                check_ok(server.url, bare + me + me + mixed)
                bare_run, bare_cpu = measured(server, bare, seconds=seconds, connections=connections)
                me_run, me_cpu = measured(server, me, seconds=seconds, connections=connections)
                mixed_run, _ = measured(server, mixed, seconds=seconds, connections=connections)
                chat = ChatPairs(server.port, user_ids[http_users:http_users + 2], tokens[http_users:])
                # Bounded: a server that never delivers must not hang the run.
                asyncio.run(asyncio.wait_for(chat.run(min(seconds, 3), limit_per_pair=2000), timeout=seconds + 30))
        except (RuntimeError, OSError, TimeoutError) as exc:
            bench.figure(group, f"{kind}", f"failed: {exc!r}"[:200], "-")
            continue
        rows[kind] = (bare_run, me_run, mixed_run, chat)
        errors = bare_run.errors + me_run.errors + mixed_run.errors
        bench.figure(group, f"{kind}: bare / profile / mixed requests/s ({bare_run.tool}, -c{connections})",
                     f"{bare_run.rps:.0f} / {me_run.rps:.0f} / {mixed_run.rps:.0f}", "req/s",
                     target=f"report (profile/bare {me_run.rps / bare_run.rps if bare_run.rps else 0:.2f}x)")
        bench.figure(group, f"{kind}: server CPU per request, bare / profile", f"{bare_cpu:.0f} / {me_cpu:.0f}", "µs")
        bench.figure(group, f"{kind}: WebSocket chat, one pair, messages/s (delivery p50)",
                     f"{chat.rate:.0f} ({percentile(chat.latencies_ms, 0.5):.1f} ms)", "msg/s",
                     target="> 0 (WebSockets work)", met=chat.messages > 0)
        bench.figure(group, f"{kind}: non-2xx or socket errors", errors, "responses", target="0", met=errors == 0)
    if "daphne" in rows:
        base = rows["daphne"][2].rps
        for kind, (_, _, mixed_run, _) in rows.items():
            if kind != "daphne" and base:
                bench.figure(group, f"{kind} / daphne, mixed requests/s", f"{mixed_run.rps / base:.2f}", "x")


def check_ok(base_url: str, specs: list[RequestSpec]) -> None:
    """Every request of the workload answers 2xx before any load (and warms the caches)."""
    for spec in specs:
        request = urllib.request.Request(base_url + spec.path, headers=spec.headers)  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - raises on 4xx/5xx
            response.read()


class ChatPairs:
    """N WebSocket clients in pairs on ws/chat/, each pair sending closed-loop, alternating direction."""

    def __init__(self, port: int, user_ids: list[int], tokens: list[str]):
        self.port, self.user_ids, self.tokens = port, user_ids, tokens
        # client_ids are idempotency keys per conversation: a later run between the same users (the server
        # comparison) must not reuse an earlier run's, or its messages are duplicates that nobody receives.
        self.run_id = uuid.uuid4().hex[:8]
        self.latencies_ms: list[float] = []
        self.messages = 0
        self.elapsed = 0.0

    async def _open(self, token: str):
        return await connect(f"ws://127.0.0.1:{self.port}/ws/chat/", origin=f"http://127.0.0.1:{self.port}",
                             subprotocols=["bearer", token], max_queue=None)

    @staticmethod
    async def _until(socket, predicate) -> None:  # noqa: ANN001
        while True:
            frame = json.loads(await socket.recv())
            if predicate(frame):
                return
            if frame.get("type") == "error":  # a refused frame: fail now rather than wait for its answer
                msg = f"chat pair refused: {frame}"
                raise RuntimeError(msg)

    async def _pair(self, a, b, a_id: int, b_id: int, deadline: float, limit: int) -> None:  # noqa: ANN001
        for n in range(limit):
            if time.monotonic() >= deadline:
                return
            src, dst, dst_id = (a, b, b_id) if n % 2 == 0 else (b, a, a_id)
            text, client_id = f"m{n}-{a_id}", f"{self.run_id}-{n}"
            started = time.perf_counter()
            await src.send(json.dumps({"type": "chat.message", "to": dst_id, "text": text, "client_id": client_id}))
            await self._until(dst, lambda f, t=text: f.get("type") == "chat.message" and f.get("text") == t)
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            await self._until(src, lambda f, c=client_id: f.get("type") == "chat.ack" and f.get("client_id") == c)
            self.messages += 1

    async def run(self, seconds: float, limit_per_pair: int) -> None:
        sockets = [await self._open(token) for token in self.tokens]
        try:
            started = time.monotonic()
            await asyncio.gather(*(
                self._pair(sockets[i], sockets[i + 1], self.user_ids[i], self.user_ids[i + 1], started + seconds,
                           limit_per_pair)
                for i in range(0, len(sockets) - 1, 2)))
            self.elapsed = time.monotonic() - started
        finally:
            for socket in sockets:
                await socket.close()

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed else 0.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples) or [0.0]
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def record(bench, label: str, result: LoadResult, target: str | None = None, met: bool | None = None) -> None:
    bench.figure("Load", f"{label}: requests/s ({result.tool}, {result.seconds:.0f} s)", round(result.rps),
                 "req/s", target=target, met=met)
    bench.figure("Load", f"{label}: latency p50 / p99", f"{result.p50_ms:.1f} / {result.p99_ms:.1f}", "ms")
    bench.figure("Load", f"{label}: non-2xx or socket errors", result.errors, f"of {result.requests} requests",
                 target="0", met=result.errors == 0)


def run(bench) -> None:
    import os

    seconds = 1 if bench.quick else 5
    rounds = 1 if bench.quick else 3
    connections = 4 if bench.quick else CONNECTIONS
    http_users = 4 if bench.quick else 16
    ws_clients = 4 if bench.quick else 16  # pairs of chatting users
    user_ids = make_users(http_users + ws_clients)
    workdir = Path(tempfile.mkdtemp(prefix="winkr-bench-load-"))
    server_env = {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": bench.redis_url,
                  "CHAT_RATE_LIMIT_REQUESTS": "1000000000",
                  "REALTIME_FRAME_RATE_FRAMES": "1000000000"}

    with AsgiServer(workdir, server_env) as server:
        tokens = [login(server.url, index) for index in range(len(user_ids))]
        http_ids, http_tokens = user_ids[:http_users], tokens[:http_users]
        bare = [RequestSpec("/bench/bare/", {"Accept": "application/json"})]
        mixed = mixed_specs(http_ids, http_tokens)
        check_ok(server.url, bare + mixed)
        bare_runs, mixed_runs = [], []
        for _ in range(rounds):  # alternate, as every other benchmark here does
            bare_runs.append(run_load(server.url, bare, seconds=seconds, connections=connections))
            mixed_runs.append(run_load(server.url, mixed, seconds=seconds, connections=connections))
        profile_vs_bare(bench, server, bare, me_specs(http_tokens), seconds=seconds, rounds=rounds,
                        connections=connections)
        chat = ChatPairs(server.port, user_ids[http_users:], tokens[http_users:])
        with_chat = _load_while_chatting(server, mixed, chat, seconds=seconds, connections=connections,
                                         limit_per_pair=200 if bench.quick else 5000)
    results: dict[str, LoadResult] = {
        # best of the rounds: least disturbed by neighbours
        "bare": max(bare_runs, key=lambda r: r.rps), "mixed": max(mixed_runs, key=lambda r: r.rps),
        "mixed + chat": with_chat,
    }
    _record_one_server(bench, results, bare_runs, mixed_runs, chat)
    cluster = _mixed_on_cluster(bench, workdir, server_env, http_ids, seconds=seconds, connections=connections)
    if cluster is not None:
        results["mixed, cluster"] = cluster
        record(bench, "mixed whole stack, 3-master Redis Cluster", cluster)
        bench.figure("Load", "cluster mixed / bare APIView requests/s", f"{cluster.rps / results['bare'].rps:.2f}",
                     "x", target="report (same workload, Redis Cluster)")

    compare_servers(bench, workdir, server_env, user_ids, http_users, seconds=seconds, connections=connections)
    _charts(bench, results, chat)


def _load_while_chatting(server: AsgiServer, mixed: list[RequestSpec], chat: ChatPairs, *, seconds: float,
                         connections: int, limit_per_pair: int) -> LoadResult:
    """The mixed HTTP load while ``chat``'s WebSocket pairs chat on the same server."""
    loaded: list[LoadResult] = []
    load_thread = threading.Thread(target=lambda: loaded.append(
        run_load(server.url, mixed, seconds=seconds, connections=connections)))
    load_thread.start()
    asyncio.run(chat.run(seconds, limit_per_pair=limit_per_pair))
    load_thread.join(timeout=seconds + 90)
    return loaded[0]


def _record_one_server(bench, results: dict[str, LoadResult], bare_runs: list[LoadResult],
                       mixed_runs: list[LoadResult], chat: ChatPairs) -> None:
    rounds, ws_clients = len(bare_runs), len(chat.tokens)
    ratio = results["mixed"].rps / results["bare"].rps if results["bare"].rps else 0.0
    generator = load_generator()
    bench.figure("Load", "load generator", generator, "-", target="wrk (Debian package)", met=generator == "wrk")
    record(bench, "bare DRF APIView (baseline)", results["bare"],
           target="for scale: ~600 req/s on the issue author's machine")
    record(bench, "mixed whole stack", results["mixed"])
    bench.figure("Load", f"mixed whole stack / bare APIView requests/s (best of {rounds} alternating runs each)",
                 f"{ratio:.3f}", "x", target=f">= {TARGET_RATIO}", met=ratio >= TARGET_RATIO)
    bench.figure("Load", "every run, bare APIView then mixed, per round",
                 "; ".join(f"{b.rps:.0f} / {m.rps:.0f}" for b, m in zip(bare_runs, mixed_runs, strict=True)), "req/s")
    record(bench, f"mixed whole stack while {ws_clients} WebSocket clients chat", results["mixed + chat"])
    bench.figure("Load", f"chat during HTTP load: {ws_clients} clients in pairs, messages/s", round(chat.rate),
                 f"msg/s ({chat.messages} messages)")
    bench.figure("Load", "chat during HTTP load: delivery p50 / p99",
                 f"{percentile(chat.latencies_ms, 0.5):.1f} / {percentile(chat.latencies_ms, 0.99):.1f}", "ms")


def _mixed_on_cluster(bench, workdir: Path, server_env: dict[str, str], http_ids: list[int], *, seconds: float,
                      connections: int) -> LoadResult | None:
    """The mixed workload against a 3-master Redis Cluster; None (and a figure saying why) when it cannot run."""
    try:
        with (LocalCluster(workdir / "cluster") as cluster,
              AsgiServer(workdir, {**server_env, **cluster.env()}) as server):
            tokens = [login(server.url, index) for index in range(len(http_ids))]
            cluster_mixed = mixed_specs(http_ids, tokens)
            check_ok(server.url, cluster_mixed)
            return run_load(server.url, cluster_mixed, seconds=seconds, connections=connections)
    except (RuntimeError, OSError) as exc:  # no redis-cli: say so, keep the other figures
        bench.figure("Load", "mixed whole stack on a 3-master cluster", f"not run: {exc}", "-")
        return None


def _charts(bench, results: dict[str, LoadResult], chat: ChatPairs) -> None:
    labels = list(results)
    bench.bars("load_requests_per_second.png", "Requests/s under one daphne process (higher is better)", labels,
               {"requests/s": [results[k].rps for k in labels]}, ylabel="requests/s")
    bench.bars("load_latency.png", "HTTP latency under load (lower is better)", labels,
               {"p50": [results[k].p50_ms for k in labels], "p99": [results[k].p99_ms for k in labels]},
               ylabel="ms")
    if chat.latencies_ms:
        bench.figure("Load", "chat delivery mean", round(statistics.fmean(chat.latencies_ms), 1), "ms")
