"""How the load spreads over a 3-master Redis Cluster: commands per master and the busiest slot's share.

The whole stack (one daphne process, bench settings) on a local 3-master cluster takes, in one measured
window: logins (``POST /api/auth/token/``), JWT-authenticated requests (bench_load's mixed workload, wrk),
open WebSockets heartbeating (``PRESENCE_HEARTBEAT_INTERVAL=1`` so a short run sees many heartbeats) and
chat pairs (bench_load's closed-loop ``ChatPairs``). The all-users indexes are written at login (both)
and by every heartbeat (online); heartbeats every second, not every 20 s, over-represent them on purpose.

Two counts, which must agree:
- per master: ``INFO commandstats`` on each node after ``CONFIG RESETSTAT`` (calls, summed over commands);
- per slot: every node's ``MONITOR`` stream for the same window (a raw socket per node, written to a file),
  each command mapped to the slot of its first key (``EVALSHA``: its first KEYS entry; ``XREAD[GROUP]``: the
  first stream). ``MONITOR`` lists commands run inside Lua scripts too (``[0 lua]``), as commandstats counts
  them, so both counts cover the same commands; Redis 7.0 has no per-slot command counter
  (``CLUSTER SLOT-STATS`` came with Valkey 8 / Redis 8), and ``CLUSTER COUNTKEYSINSLOT`` counts keys, not
  traffic. A command without a key (``PING``, ``INFO``, ``CLUSTER``, ``MULTI``...) counts for its master only.

Run twice: ``INDEX_BUCKETS=16`` (the default) and ``INDEX_BUCKETS=1`` (one sorted set per index, one slot:
the layout before sharding), so the report shows what the buckets change. Figures go to
``bench/out/distribution.json`` for ``bench/capacity.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis
from redis.crc import key_slot
from websockets.asyncio.client import connect

from bench.bench_load import PASSWORD, ChatPairs, make_users, mixed_specs
from bench.loadgen import LoadResult, run_load
from caching_app.devservers.asgi_servers import AsgiServer
from caching_app.devservers.redis_servers import LocalCluster


def out_dir(bench) -> Path:
    """``bench/out/`` beside the report (``--out`` moves both, so the quick test run leaves the repo alone)."""
    return Path(bench.out_dir).parent / "bench" / "out"

MASTER_RATIO_TARGET = 1.5
SLOT_SHARE_TARGET = 0.05
END_MARKER = "winkr-bench-monitor-end"
KEYLESS = {"PING", "INFO", "CLUSTER", "COMMAND", "CLIENT", "HELLO", "SELECT", "READONLY", "READWRITE", "MULTI",
           "EXEC", "DISCARD", "SCRIPT", "AUTH", "ECHO", "TIME", "CONFIG", "DBSIZE", "MONITOR", "FUNCTION", "QUIT",
           "RESET", "LATENCY", "MEMORY", "SLOWLOG",
           # Classic Pub/Sub: the channel is no key, the cluster bus broadcasts every message to every node.
           "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE"}
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)")
_SIMPLE_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b"}


def _unescape(raw: bytes) -> bytes:
    """MONITOR quotes arguments C-style (sdscatrepr): undo it, so slots are computed on the real bytes."""
    def one(match: re.Match) -> bytes:
        text = match.group(1)
        if text[:1] == b"x" and len(text) == 3:
            return bytes([int(text[1:], 16)])
        return _SIMPLE_ESCAPES.get(text, text)

    return _ESCAPE.sub(one, raw)


def first_key(args: list[bytes]) -> bytes | None:
    """The first key of a command as MONITOR printed it (``args[0]`` is the command name)."""
    name = args[0].decode("ascii", "replace").upper()
    if name in KEYLESS or len(args) < 2:
        return None
    if name in ("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO"):
        return args[3] if len(args) > 3 and int(args[2]) > 0 else None
    if name in ("XREAD", "XREADGROUP"):
        upper = [arg.upper() for arg in args]
        return args[upper.index(b"STREAMS") + 1] if b"STREAMS" in upper else None
    return args[1]


class MonitorCapture:
    """One node's MONITOR stream, read on a raw socket by a thread and written to a file as it comes."""

    def __init__(self, port: int, path: Path):
        self.port, self.path = port, path
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(b"MONITOR\r\n")
        self.file = open(path, "wb")  # noqa: SIM115 - closed by the reader thread
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        tail = b""
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return
                self.file.write(chunk)
                if END_MARKER.encode() in tail + chunk:
                    return
                tail = chunk[-64:]
        finally:
            self.file.close()

    def stop(self, timeout: float = 60.0) -> None:
        """Send the end marker from another connection and wait until the stream has shown it."""
        redis.Redis(port=self.port).echo(END_MARKER)
        self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            msg = f"MONITOR of 127.0.0.1:{self.port} did not reach the end marker"
            raise RuntimeError(msg)


def parse_monitor(path: Path, samples: dict[int, str]) -> tuple[Counter, int, Counter, Counter]:
    """``(commands per slot, keyless commands, commands per name, client-sent commands per slot)`` from one
    node's MONITOR capture (a command run by a Lua script shows ``[<db> lua]``: not client-sent; keyless
    client-sent commands are counted under slot -1).

    ``samples`` gets one key seen per slot, to name the busiest slots in the report.
    """
    slots: Counter = Counter()
    sent: Counter = Counter()
    names: Counter = Counter()
    keyless = 0
    for line in path.read_bytes().split(b"\r\n"):
        if not line.startswith(b"+") or line == b"+OK" or END_MARKER.encode() in line:
            continue
        head, _, rest = line.partition(b"] ")
        args = [_unescape(token) for token in _TOKEN.findall(rest)]
        if not args:
            continue
        names[args[0].decode("ascii", "replace").upper()] += 1
        key = first_key(args)
        if key is None:
            keyless += 1
            if not head.endswith(b" lua"):
                sent[-1] += 1  # keyless, client-sent
        else:
            slot = key_slot(key)
            slots[slot] += 1
            if not head.endswith(b" lua"):
                sent[slot] += 1
            samples.setdefault(slot, key.decode("utf-8", "replace"))
    return slots, keyless, names, sent


def commandstats_total(client: redis.Redis) -> tuple[int, dict[str, int]]:
    stats = client.info("commandstats")
    per_command = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    per_command.pop("info", None)  # this very call (and the reset before) are the bench's, not the app's
    per_command.pop("config|resetstat", None)
    return sum(per_command.values()), per_command


@dataclass
class Distribution:
    buckets: int
    masters: list[dict] = field(default_factory=list)  # port, slots owned, commandstats calls, monitor calls
    total_commands: int = 0
    busiest_slot: int = -1
    busiest_slot_commands: int = 0
    busiest_slot_keys: list[str] = field(default_factory=list)
    top_slots: list[tuple[int, int, str]] = field(default_factory=list)  # slot, commands, a key in it
    traffic: dict = field(default_factory=dict)
    client_sent_total: int = 0
    client_sent_busiest_slot: tuple[int, int, str] = (-1, 0, "")
    index_slots: dict = field(default_factory=dict)  # commands on the all-users index buckets

    @property
    def master_ratio(self) -> float:
        calls = [m["commandstats_calls"] for m in self.masters]
        return max(calls) / min(calls) if min(calls) else float("inf")

    @property
    def slot_share(self) -> float:
        return self.busiest_slot_commands / self.total_commands if self.total_commands else 0.0


def _slot_owners(client: redis.Redis) -> dict[int, int]:
    """slot -> port of the master owning it."""
    owners = {}
    for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
        for slot in range(int(start), int(end) + 1):
            owners[slot] = int(master[1])
    return owners


def login(base_url: str, index: int) -> str:
    """bench_load's login, from the user's own address: a proxy in front (``RATELIMIT_TRUSTED_PROXIES=1``)
    passes it in X-Forwarded-For, as production traffic comes from many addresses, not one loopback IP."""
    body = json.dumps({"username": f"bench-load-{index}", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base_url}/api/auth/token/", data=body, headers={  # noqa: S310 - loopback
        "Content-Type": "application/json", "X-Forwarded-For": f"10.{index // 65536 % 256}.{index // 256 % 256}."
                                                               f"{index % 256}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["access"]


async def _heartbeating(port: int, tokens: list[str], seconds: float) -> None:
    """Open sockets that only heartbeat (server-side, every PRESENCE_HEARTBEAT_INTERVAL) for ``seconds``."""
    sockets = [await connect(f"ws://127.0.0.1:{port}/ws/chat/", origin=f"http://127.0.0.1:{port}",
                             subprotocols=["bearer", token]) for token in tokens]
    try:
        await asyncio.sleep(seconds)
    finally:
        for sock in sockets:
            await sock.close()


@dataclass
class _Tally:
    """What the masters' MONITOR streams of one run add up to."""

    slots: Counter = field(default_factory=Counter)  # commands per slot
    names: Counter = field(default_factory=Counter)  # commands per command name
    samples: dict[int, str] = field(default_factory=dict)  # a key seen in each slot
    sent: Counter = field(default_factory=Counter)  # client-sent commands (script internals left out) per slot


def measure(workdir: Path, buckets: int, users: int, idle_sockets: int, chatters: int, http_users: int,
            seconds: float, server_env: dict[str, str]) -> Distribution:
    user_ids = make_users(users)
    env = {**server_env, "SESSION_INDEX_BUCKETS": str(buckets), "PRESENCE_HEARTBEAT_INTERVAL": "1",
           "PRESENCE_TTL": "5", "RATELIMIT_TRUSTED_PROXIES": "1"}
    run_dir = workdir / f"buckets-{buckets}"
    with LocalCluster(run_dir / "cluster") as cluster, AsgiServer(run_dir, {**env, **cluster.env()}) as server:
        nodes = [redis.Redis(port=node.port) for node in cluster.nodes]
        for node in nodes:
            node.config_resetstat()
        monitors = [MonitorCapture(node.port, run_dir / f"monitor-{node.port}.txt") for node in cluster.nodes]
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:  # the login phase: every user logs in once
            tokens = list(pool.map(lambda index: login(server.url, index), range(users)))
        login_seconds = time.monotonic() - started
        http, chat, idle = _drive_traffic(server, user_ids, tokens, (http_users, chatters, idle_sockets), seconds)
        for monitor in monitors:
            monitor.stop()
        result, tally = _distribution(buckets, cluster, nodes, monitors)
        result.index_slots = _index_slots(buckets, tally, result)
        result.traffic = {
            "logins": users, "login_seconds": round(login_seconds, 2),
            "http_requests": http.requests if http else 0, "http_errors": http.errors if http else -1,
            "heartbeating_sockets": len(idle), "chat_clients": chatters, "chat_messages": chat.messages,
            "seconds": seconds, "monitor_total": sum(m["monitor_commands"] for m in result.masters),
            "commands_by_name": dict(tally.names.most_common(15)),
        }
        return result


def _drive_traffic(server: AsgiServer, user_ids: list[int], tokens: list[str], shares: tuple[int, int, int],
                   seconds: float) -> tuple[LoadResult | None, ChatPairs, list[str]]:
    """The mixed workload for ``seconds``: authenticated HTTP load, chatting pairs and idle heartbeating
    sockets, at once; ``shares`` is how many users do each (http, chat, idle), in the order of ``user_ids``."""
    http_users, chatters, idle_sockets = shares
    specs = mixed_specs(user_ids[:http_users], tokens[:http_users])
    loaded = []
    load_thread = threading.Thread(target=lambda: loaded.append(
        run_load(server.url, specs, seconds=seconds, connections=8)))
    chat = ChatPairs(server.port, user_ids[http_users:http_users + chatters],
                     tokens[http_users:http_users + chatters])
    idle = tokens[http_users + chatters:http_users + chatters + idle_sockets]

    async def sockets() -> None:
        await asyncio.gather(_heartbeating(server.port, idle, seconds + 1), chat.run(seconds, 100_000))

    load_thread.start()
    asyncio.run(sockets())
    load_thread.join(timeout=seconds + 120)
    return (loaded[0] if loaded else None), chat, idle


def _distribution(buckets: int, cluster: LocalCluster, nodes: list[redis.Redis], monitors: list[MonitorCapture]
                  ) -> tuple[Distribution, _Tally]:
    """Commands per master (commandstats, and MONITOR against the slot map) and the busiest slots."""
    stats = [commandstats_total(node) for node in nodes]
    owners = _slot_owners(nodes[0])
    result = Distribution(buckets)
    tally = _Tally()
    for node, monitor, (calls, per_command) in zip(cluster.nodes, monitors, stats, strict=True):
        node_slots, keyless, node_names, node_sent = parse_monitor(monitor.path, tally.samples)
        tally.slots.update(node_slots)
        tally.sent.update(node_sent)
        tally.names.update(node_names)
        misplaced = sum(count for slot, count in node_slots.items() if owners.get(slot) != node.port)
        result.masters.append({
            "port": node.port, "slots_owned": sum(1 for port in owners.values() if port == node.port),
            "commandstats_calls": calls, "monitor_commands": sum(node_slots.values()) + keyless,
            "keyless_commands": keyless, "commands_on_slots_of_other_masters": misplaced,
            "top_commands": dict(Counter(per_command).most_common(8)),
        })
    samples = tally.samples
    result.total_commands = sum(m["commandstats_calls"] for m in result.masters)
    result.busiest_slot, result.busiest_slot_commands = tally.slots.most_common(1)[0]
    result.top_slots = [(slot, count, samples[slot]) for slot, count in tally.slots.most_common(10)]
    result.busiest_slot_keys = [samples[result.busiest_slot]]
    result.client_sent_total = sum(tally.sent.values())
    slot, count = next((slot, count) for slot, count in tally.sent.most_common() if slot >= 0)
    result.client_sent_busiest_slot = (slot, count, samples[slot])
    return result, tally


def _index_slots(buckets: int, tally: _Tally, result: Distribution) -> dict:
    """The commands on the slots of the all-users index buckets (sessions and online)."""
    from sessions_app import keys
    from sessions_app.indexes import INDEXES

    index_slots = {key_slot(keys.index_key(index.name, tag).encode())
                   for index in INDEXES for tag in keys.index_bucket_tags(index.name, buckets)}
    on_index = [tally.slots[slot] for slot in index_slots]
    return {"slots": len(index_slots), "commands": sum(on_index), "busiest": max(on_index),
            "share_all_buckets": sum(on_index) / result.total_commands,
            "share_busiest_bucket": max(on_index) / result.total_commands,
            "client_sent_share_all_buckets": sum(tally.sent[s] for s in index_slots) / result.client_sent_total}


def distribution_markdown(runs: dict[int, Distribution]) -> str:
    lines = ["Commands per master are `INFO commandstats` calls after `CONFIG RESETSTAT`; per slot, every "
             "master's `MONITOR` stream (commands run inside Lua scripts included, as commandstats counts them), "
             "each command mapped to the slot of its first key.", "",
             "| INDEX_BUCKETS | master | slots owned | commands (commandstats) | seen by MONITOR | keyless |",
             "|---|---|---|---|---|---|"]
    for buckets, result in runs.items():
        for master in result.masters:
            lines.append(f"| {buckets} | 127.0.0.1:{master['port']} | {master['slots_owned']} | "
                         f"{master['commandstats_calls']} | {master['monitor_commands']} | "
                         f"{master['keyless_commands']} |")
    lines += ["", "| INDEX_BUCKETS | busiest slots: slot, commands, share, a key in it |", "|---|---|"]
    for buckets, result in runs.items():
        top = "; ".join(f"{slot}: {count} ({count / result.total_commands * 100:.1f} %, `{key}`)"
                        for slot, count, key in result.top_slots[:4])
        lines.append(f"| {buckets} | {top} |")
    return "\n".join(lines) + "\n"


def run(bench) -> None:
    users = 60 if bench.quick else 240
    http_users, chatters, idle = (20, 10, 20) if bench.quick else (80, 40, 100)
    seconds = 3 if bench.quick else 12
    workdir = Path(tempfile.mkdtemp(prefix="winkr-bench-distribution-"))
    # Per-user chat and per-socket frame limits out of the way, as bench_load does: the figures are about
    # where the commands land, and a refused frame would leave its pair waiting for an ack.
    server_env = {"DATABASE_URL": os.environ["DATABASE_URL"], "CHAT_RATE_LIMIT_REQUESTS": "1000000000",
                  "REALTIME_FRAME_RATE_FRAMES": "1000000000"}
    runs = {}
    for buckets in (16,) if bench.quick else (16, 1):
        runs[buckets] = measure(workdir, buckets, users, idle, chatters, http_users, seconds, server_env)
    out_dir(bench).mkdir(parents=True, exist_ok=True)
    (out_dir(bench) / "distribution.json").write_text(json.dumps(
        {str(b): {**asdict(r), "master_ratio": r.master_ratio, "slot_share": r.slot_share} for b, r in runs.items()},
        indent=2) + "\n")

    bench.section("Cluster distribution (bench/bench_distribution.py)", distribution_markdown(runs))
    if (out_dir(bench) / "capacity.json").exists():
        from bench.capacity import load, table

        bench.section("Capacity model (bench/capacity.py, from bench/out/*.json)",
                      table(*load(out_dir(bench))))
    for buckets, result in runs.items():
        label = f"INDEX_BUCKETS={buckets}" + (" (default)" if buckets == 16 else " (one slot per index, as before)")
        group = "Cluster distribution"
        traffic = result.traffic
        bench.figure(group, f"{label}: workload", f"{traffic['logins']} logins, {traffic['http_requests']} "
                     f"authenticated requests ({traffic['http_errors']} errors), {traffic['heartbeating_sockets']} "
                     f"sockets heartbeating every 1 s, {traffic['chat_messages']} chat messages "
                     f"({traffic['chat_clients']} clients), {traffic['seconds']} s", "-")
        bench.figure(group, f"{label}: commands per master (INFO commandstats)",
                     " / ".join(str(m["commandstats_calls"]) for m in result.masters),
                     f"calls (MONITOR saw {traffic['monitor_total']} in all)")
        target = buckets == 16
        bench.figure(group, f"{label}: busiest / least busy master", f"{result.master_ratio:.2f}", "x",
                     target=f"<= {MASTER_RATIO_TARGET}" if target else None,
                     met=result.master_ratio <= MASTER_RATIO_TARGET if target else None)
        bench.figure(group, f"{label}: busiest slot's share of all commands",
                     f"{result.slot_share * 100:.1f} % (slot {result.busiest_slot}, e.g. "
                     f"`{result.busiest_slot_keys[0]}`)",
                     "of commands", target=f"<= {SLOT_SHARE_TARGET * 100:.0f} %" if target else None,
                     met=result.slot_share <= SLOT_SHARE_TARGET if target else None)
        slot, count, key = result.client_sent_busiest_slot
        bench.figure(group, f"{label}: busiest slot's share of client-sent commands (script internals left out)",
                     f"{count / result.client_sent_total * 100:.1f} % (slot {slot}, e.g. `{key}`)", "of commands")
        index = result.index_slots
        bench.figure(group, f"{label}: the all-users indexes ({index['slots']} slots): all of them / the busiest",
                     f"{index['share_all_buckets'] * 100:.1f} % / {index['share_busiest_bucket'] * 100:.1f} % "
                     f"(client-sent: {index['client_sent_share_all_buckets'] * 100:.1f} % in all)",
                     "of commands" + (" (before sharding both shared one slot: the first figure)"
                                      if buckets == 1 else ""))
