"""Replay: one user's ``since=`` sync of 200 conversations, ours against one XRANGE per conversation.

The user comes back after the 200 partners wrote to them (3 messages each, sent through the app's own
``asend_message``, so the Streams and the partner index are what production writes). The sync reads every
message after a cursor older than all of them. In the same process, on the same servers, rounds alternated:
- ours, one page: ``realtime_app.chat.areplay`` (the partner index, then every conversation in one pipeline);
- ours, full sync: ``areplay`` again from each page's last cursor while ``more`` (what a socket's ``chat.sync``
  loop costs, without the socket);
- the anchor a developer would write: the same index read, then one XRANGE per conversation, one after the
  other (it reads everything in one pass, so it is a full sync).
Round trips are counted, not inferred (bench/roundtrips.py): requests written per node by redis.asyncio, and
the servers' own command counts and read events. Standalone, then a local 3-master Cluster.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.test.utils import override_settings

from bench.bench_fanout import cluster_settings
from bench.bench_realtime import percentile
from bench.roundtrips import RoundTrips, ServerCounts
from caching_app.devservers.redis_servers import LocalCluster
from caching_app.foundation.connections import get_async_redis
from realtime_app.chat import CLOCK_SKEW_MARGIN_MS, areplay, asend_message
from realtime_app.conf import realtime_settings
from realtime_app.keys import conversation_key, partners_key

GROUP = "Replay"
MESSAGES_PER_CONVERSATION = 3
MAX_PAGES = 5000  # a full sync that needs more pages than this is a bug, not a figure


def users(conversations: int) -> tuple[Any, list[Any]]:
    """The returning user and their partners (created once, reused by the Cluster run)."""
    User = get_user_model()
    names = ["bench-replay-user", *(f"bench-replay-{i}" for i in range(conversations))]
    User.objects.bulk_create([User(username=name) for name in names], ignore_conflicts=True)
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    return found[names[0]], [found[name] for name in names[1:]]


async def seed(user: Any, partners: list[Any]) -> str:
    """Every partner writes to ``user``, interleaved (round r: message r of every conversation); the cursor
    before all of them."""
    since = f"{int(time.time() * 1000) - 1}-0"
    for r in range(MESSAGES_PER_CONVERSATION):
        for partner in partners:
            await asend_message(partner, user.pk, f"message {r} from {partner.pk}")
    return since


async def ours_page(user_id: str, since: str) -> int:
    return len((await areplay(user_id, since)).messages)


async def ours_full(user_id: str, since: str) -> int:
    """Pages until ``more`` is false, each from the previous page's last cursor; the number of messages."""
    cursor, count = since, 0
    for _ in range(MAX_PAGES):
        page = await areplay(user_id, cursor)
        count += len(page.messages)
        if not page.more:
            return count
        cursor = page.messages[-1].cursor
    msg = f"full sync did not end within {MAX_PAGES} pages"
    raise RuntimeError(msg)


async def pages_of_full_sync(user_id: str, since: str) -> int:
    cursor, pages = since, 0
    while pages < MAX_PAGES:
        page = await areplay(user_id, cursor)
        pages += 1
        if not page.more:
            break
        cursor = page.messages[-1].cursor
    return pages


async def one_xrange_each(user_id: str, since: str) -> int:
    """The anchor: the same index read, then one XRANGE per conversation, sequentially."""
    client = get_async_redis(realtime_settings.REDIS_ALIAS)
    start_ms = int(since.split("-")[0])
    partners = await client.zrangebyscore(partners_key(user_id), start_ms - CLOCK_SKEW_MARGIN_MS, "+inf")
    count = 0
    for partner in partners:
        count += len(await client.xrange(conversation_key(user_id, partner.decode()), min="(" + since, max="+"))
    return count


PATHS: dict[str, Callable[[str, str], Awaitable[int]]] = {
    "ours, one page (areplay)": ours_page,
    "ours, full sync (areplay pages)": ours_full,
    "one XRANGE per conversation": one_xrange_each,
}


def timed(loop: asyncio.AbstractEventLoop, user_id: str, since: str, rounds: int) -> dict[str, list[float]]:
    """µs per call of every path, the order rotated every round so a load spike hits all of them."""
    samples: dict[str, list[float]] = {name: [] for name in PATHS}
    names = list(PATHS)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            loop.run_until_complete(PATHS[name](user_id, since))
            samples[name].append((time.perf_counter() - start) * 1e6)
    return samples


def counted(loop: asyncio.AbstractEventLoop, user_id: str, since: str, urls: list[str]) -> dict[str, dict]:
    """Per path: messages read, requests written per node (client side), commands and read events per node
    (server side)."""
    results = {}
    servers = [ServerCounts(url) for url in urls]
    try:
        for name, path in PATHS.items():
            for server in servers:
                server.start()
            with RoundTrips() as trips:
                messages = loop.run_until_complete(path(user_id, since))
            stats = [server.stop() for server in servers]
            results[name] = {"messages": messages, "trips": dict(trips.by_node),
                             "commands": [s[0] for s in stats], "reads": [s[1] for s in stats]}
    finally:
        for server in servers:
            server.close()
    return results


def measure(bench: Any, loop: asyncio.AbstractEventLoop, where: str, conversations: int, urls: list[str]
            ) -> dict[str, tuple[float, float]]:
    """Seed, count, time and report one deployment; p50 / p99 µs per path."""
    user, partners = users(conversations)
    since = loop.run_until_complete(seed(user, partners))
    user_id = str(user.pk)
    counts = counted(loop, user_id, since, urls)
    expected = conversations * MESSAGES_PER_CONVERSATION
    full = {name: c["messages"] for name, c in counts.items() if "page" not in name}
    if set(full.values()) != {expected}:
        msg = f"{where}: a full sync read {full}, expected {expected} messages each"
        raise RuntimeError(msg)
    pages = loop.run_until_complete(pages_of_full_sync(user_id, since))
    samples = timed(loop, user_id, since, 3 if bench.quick else 30)
    label = f"{where}, {conversations} conversations"
    stats = {name: (percentile(s, 0.5), percentile(s, 0.99)) for name, s in samples.items()}
    for name, (p50, p99) in stats.items():
        bench.figure(GROUP, f"{label}: {name}, p50 / p99 ({len(samples[name])} rounds)",
                     f"{p50:.0f} / {p99:.0f}", "µs per sync")
    page_size = int(realtime_settings.REPLAY_PAGE_SIZE)
    bench.figure(GROUP, f"{label}: ours, messages in the first page / pages in a full sync (page size "
                 f"{page_size}, {expected} messages)", f"{counts['ours, one page (areplay)']['messages']} / {pages}",
                 "messages / pages")
    anchor = stats["one XRANGE per conversation"][0]
    for name in ("ours, one page (areplay)", "ours, full sync (areplay pages)"):
        bench.figure(GROUP, f"{label}: p50, one XRANGE per conversation / {name}", round(anchor / stats[name][0], 2),
                     "x (above 1: ours is faster)")
    report_round_trips(bench, label, counts, urls)
    return stats


def report_round_trips(bench: Any, label: str, counts: dict[str, dict], urls: list[str]) -> None:
    """Requests per node (client side) beside what each server ran and its read events."""
    nodes = [url.removeprefix("redis://").split("/")[0] for url in urls]
    for name, c in counts.items():
        per_node = [c["trips"].get(node, 0) for node in nodes]
        commands = ", ".join(f"{node}: " + " ".join(f"{k} {v}" for k, v in sorted(cmds.items()))
                             for node, cmds in zip(nodes, c["commands"], strict=True))
        reads = " / ".join(str(r) for r in c["reads"])
        text = f"{' / '.join(map(str, per_node))} (server read events {reads}; ran {commands})"
        if name == "ours, one page (areplay)":
            # The target: the pipeline is one round trip per node; the index read is one more, on the user's node.
            touched = sum(1 for n in per_node if n)
            met = sum(per_node) == touched + 1 and max(per_node) <= 2
            bench.figure(GROUP, f"{label}: round trips per node, {name}", text, "requests",
                         target="one per node + the index read", met=met)
        else:
            bench.figure(GROUP, f"{label}: round trips per node, {name}", text, "requests")


def run(bench: Any) -> None:
    conversations = 20 if bench.quick else 200
    loop = asyncio.new_event_loop()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        results["standalone"] = measure(bench, loop, "standalone", conversations, [bench.redis_url])
        with LocalCluster(Path(tempfile.mkdtemp(prefix="replay-bench-"))) as cluster:
            with override_settings(WINKR_REDIS=cluster_settings(cluster.seeds)):
                results["3-master Cluster"] = measure(bench, loop, "3-master Cluster", conversations,
                                                      [f"redis://{seed}/0" for seed in cluster.seeds])
    finally:
        loop.close()
    labels = [f"{where} {q}" for where in results for q in ("p50", "p99")]
    series = {name: [v for stats in results.values() for v in stats[name]] for name in PATHS}
    bench.bars("replay_latency.png", f"Sync of {conversations} conversations × {MESSAGES_PER_CONVERSATION} "
               "messages (µs)", labels, series, ylabel="µs per sync")
