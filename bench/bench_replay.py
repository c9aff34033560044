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
the servers' own command counts and read events (a request bigger than redis-server's 16 KB read buffer arrives
in more than one read event: those count requests from above, not round trips). Standalone, then a local
3-master Cluster. Targets (issue 18): one page costs one round trip per node plus the partner index read, and a
full sync takes as many pages as full pages of REPLAY_PAGE_SIZE need (+ 1), so it too is one round trip per
node per page of messages. Quick mode: 20 conversations, which fit in one page.
"""

from __future__ import annotations

import asyncio
import math
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


async def ours_page(user_id: str, since: str) -> tuple[int, int]:
    """One ``areplay`` page: (messages, pages)."""
    return len((await areplay(user_id, since)).messages), 1


async def ours_full(user_id: str, since: str) -> tuple[int, int]:
    """Pages until ``more`` is false, each from the previous page's last cursor: (messages, pages)."""
    cursor, count = since, 0
    for pages in range(1, MAX_PAGES + 1):
        page = await areplay(user_id, cursor)
        count += len(page.messages)
        if not page.more:
            return count, pages
        cursor = page.messages[-1].cursor
    msg = f"full sync did not end within {MAX_PAGES} pages"
    raise RuntimeError(msg)


async def one_xrange_each(user_id: str, since: str) -> tuple[int, int]:
    """The anchor: the same index read, then one XRANGE per conversation, sequentially: (messages, 1)."""
    client = get_async_redis(realtime_settings.REDIS_ALIAS)
    start_ms = int(since.split("-")[0])
    partners = await client.zrangebyscore(partners_key(user_id), start_ms - CLOCK_SKEW_MARGIN_MS, "+inf")
    count = 0
    for partner in partners:
        other = partner.decode() if isinstance(partner, bytes) else str(partner)
        count += len(await client.xrange(conversation_key(user_id, other), min="(" + since, max="+") or [])
    return count, 1


PAGE, FULL, ANCHOR = "ours, one page (areplay)", "ours, full sync (areplay pages)", "one XRANGE per conversation"
PATHS: dict[str, Callable[[str, str], Awaitable[tuple[int, int]]]] = {
    PAGE: ours_page, FULL: ours_full, ANCHOR: one_xrange_each,
}


def timed(loop: asyncio.AbstractEventLoop, user_id: str, since: str, rounds: dict[str, int]
          ) -> dict[str, list[float]]:
    """µs per call of every path, the order rotated every round (a load spike hits all of them); a path
    stops after its own number of rounds (the full sync is too slow for as many as the others)."""
    samples: dict[str, list[float]] = {name: [] for name in PATHS}
    names = list(PATHS)
    for index in range(max(rounds.values())):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            if index >= rounds[name]:
                continue
            start = time.perf_counter()
            loop.run_until_complete(PATHS[name](user_id, since))
            samples[name].append((time.perf_counter() - start) * 1e6)
    return samples


def counted(loop: asyncio.AbstractEventLoop, user_id: str, since: str, urls: list[str]) -> dict[str, dict]:
    """Per path: messages read and pages, requests written per node (client side), commands run and read
    events per node (server side)."""
    results = {}
    servers = [ServerCounts(url) for url in urls]
    try:
        for name, path in PATHS.items():
            for server in servers:
                server.start()
            with RoundTrips() as trips:
                messages, pages = loop.run_until_complete(path(user_id, since))
            stats = [server.stop() for server in servers]
            results[name] = {"messages": messages, "pages": pages, "trips": dict(trips.by_node),
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
    if {counts[FULL]["messages"], counts[ANCHOR]["messages"]} != {expected}:
        msg = f"{where}: the full syncs read {counts[FULL]['messages']} and {counts[ANCHOR]['messages']} messages"
        raise RuntimeError(msg)
    rounds = 3 if bench.quick else 100
    samples = timed(loop, user_id, since, {PAGE: rounds, ANCHOR: rounds, FULL: 3 if counts[FULL]["pages"] > 20
                                           else rounds})
    label = f"{where}, {conversations} conversations × {MESSAGES_PER_CONVERSATION} messages"
    stats = {name: (percentile(s, 0.5), percentile(s, 0.99)) for name, s in samples.items()}
    for name, (p50, p99) in stats.items():
        bench.figure(GROUP, f"{label}: {name}, p50 / p99 ({len(samples[name])} rounds)",
                     f"{p50:.0f} / {p99:.0f}", "µs per sync")
    page_size = int(realtime_settings.REPLAY_PAGE_SIZE)
    pages, fewest = counts[FULL]["pages"], math.ceil(expected / page_size)
    bench.figure(GROUP, f"{label}: ours, messages in the first page", counts[PAGE]["messages"],
                 f"messages (REPLAY_PAGE_SIZE {page_size})")
    # A full sync is one round trip per node per page: one per node only if the pages are full.
    bench.figure(GROUP, f"{label}: ours, pages in a full sync ({expected} messages)", pages, "pages",
                 target=f"≤ {fewest + 1} (full pages of {page_size}, + 1)", met=pages <= fewest + 1)
    for name in (PAGE, FULL):
        bench.figure(GROUP, f"{label}: p50, {ANCHOR} / {name}", round(stats[ANCHOR][0] / stats[name][0], 3),
                     "x (above 1: ours is faster)")
    report_round_trips(bench, label, counts, urls)
    return stats


def report_round_trips(bench: Any, label: str, counts: dict[str, dict], urls: list[str]) -> None:
    """Requests per node (client side) beside what each server ran and its read events."""
    nodes = [url.removeprefix("redis://").split("/")[0] for url in urls]
    for name, c in counts.items():
        per_node = [c["trips"].get(node, 0) for node in nodes]
        commands = "; ".join(" ".join(f"{k} {v}" for k, v in sorted(cmds.items())) for cmds in c["commands"])
        reads = " / ".join(str(r) for r in c["reads"])
        text = f"{' / '.join(map(str, per_node))} (server read events {reads}; ran {commands})"
        met = None
        if name == PAGE:
            # The target: the pipeline is one round trip per node; the index read is one more, on the user's node.
            touched = sum(1 for n in per_node if n)
            met = sum(per_node) == touched + 1 and max(per_node) <= 2
        bench.figure(GROUP, f"{label}: round trips per node, {name}", text, "requests",
                     target="one per node + the index read" if name == PAGE else None, met=met)


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
    charts(bench, conversations, results)


def charts(bench: Any, conversations: int, results: dict[str, dict[str, tuple[float, float]]]) -> None:
    """One page against the anchor (µs), and the full sync against the anchor (ms: it can be 1000x apart)."""
    labels = [f"{where} {q}" for where in results for q in ("p50", "p99")]
    what = f"{conversations} conversations × {MESSAGES_PER_CONVERSATION} messages"
    bench.bars("replay_page.png", f"Replay of {what}: one page", labels,
               {name: [v for stats in results.values() for v in stats[name]] for name in (PAGE, ANCHOR)},
               ylabel="µs per sync")
    bench.bars("replay_full_sync.png", f"Full sync of {what} (every page)", labels,
               {name: [v / 1000 for stats in results.values() for v in stats[name]] for name in (FULL, ANCHOR)},
               ylabel="ms per sync")
