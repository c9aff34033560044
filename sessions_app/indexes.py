"""The two all-users indexes, sharded: every device session by expiry, every online user by "online until".

One sorted set per index would be one Cluster slot on one master: every login, activity write and
socket heartbeat would land there, and the set would grow with the whole user base. So each index is
``INDEX_BUCKETS`` sorted sets with a hash tag each (:func:`sessions_app.keys.index_bucket_tags`); a
member's bucket is a stable hash of it. Writes touch one bucket; counts, pages and sweeps read every
bucket in one pipeline (redis-py's cluster pipeline sends one batch per master).

Migration from the pre-sharding single keys (``{global}``) needs no downtime: reads add the legacy key
as one more source, writes drop the member from it while it exists (checked at most every
``LEGACY_RECHECK`` seconds per process, so a migrated deployment never touches that slot again), and
the sweep or ``manage.py sessions migrate-indexes`` moves what is left. All are twin-driver steps
(caching_app.foundation.twins), so the sync and async services share them.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from caching_app.foundation.twins import Call, Op, Pipe

from . import keys as k
from .conf import sessions_settings

LEGACY_RECHECK = 30.0
# Pages up to this offset fetch offset+limit entries from every bucket and merge; deeper pages first
# find the score at the page start (a binary search over ZCOUNTs), so their cost does not grow with
# the offset.
DIRECT_OFFSET = 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class ShardedIndex:
    name: str  # sessions_app.keys.SESSIONS_INDEX or ONLINE_INDEX

    @staticmethod
    def buckets() -> int:
        return int(sessions_settings.INDEX_BUCKETS)

    def bucket_keys(self, buckets: int | None = None) -> list[str]:
        tags = k.index_bucket_tags(self.name, buckets or self.buckets())
        return [k.index_key(self.name, tag) for tag in tags]

    def key_for(self, member: str) -> str:
        buckets = self.buckets()
        return k.index_key(self.name, k.index_bucket_tags(self.name, buckets)[k.index_bucket(member, buckets)])

    @property
    def legacy_key(self) -> str:
        return k.legacy_index_key(self.name)

    def read_keys(self) -> list[str]:
        """Every key a read consults: the buckets, then the legacy key (empty, hence free, once migrated)."""
        return [*self.bucket_keys(), self.legacy_key]

    # --- writes: lists of calls, for the caller's pipeline ------------------------------------------------
    def add(self, scores: dict[str, float], *, legacy: bool, gt: bool = False) -> list[Call]:
        by_key: dict[str, dict[str, float]] = defaultdict(dict)
        for member, score in scores.items():
            by_key[self.key_for(member)][member] = score
        options = {"gt": True} if gt else {}
        calls = [Call("zadd", (key, mapping), options) for key, mapping in by_key.items()]
        if legacy and scores:
            # The member now lives in its bucket: a second copy would be counted twice.
            calls.append(Call("zrem", (self.legacy_key, *scores)))
        return calls

    def remove(self, members: Iterable[str], *, legacy: bool) -> list[Call]:
        by_key: dict[str, list[str]] = defaultdict(list)
        members = list(members)
        for member in members:
            by_key[self.key_for(member)].append(member)
        calls = [Call("zrem", (key, *group)) for key, group in by_key.items()]
        if legacy and members:
            calls.append(Call("zrem", (self.legacy_key, *members)))
        return calls

    # --- reads -------------------------------------------------------------------------------------------
    def count(self, now: int) -> Op:
        replies = yield Pipe([Call("zcount", (key, f"({now}", "+inf")) for key in self.read_keys()])
        return sum(int(reply) for reply in replies)

    def page(self, offset: int, limit: int, now: int, direct_offset: int = DIRECT_OFFSET) -> Op:
        """Members live after ``now``, highest score first (ties: member descending, as ZREVRANGE orders
        them in one key), from ``offset``: the same page one sorted set would give."""
        if limit <= 0:
            return []
        sources = self.read_keys()
        if offset <= direct_offset:
            # The first offset+limit of the merged order are among the first offset+limit of each bucket.
            replies = yield Pipe([Call("zrevrangebyscore", (key, "+inf", f"({now}"),
                                       {"start": 0, "num": offset + limit, "withscores": True}) for key in sources])
            return _merge(replies)[offset:offset + limit]
        top, skip = yield from self._page_start(sources, offset, now)
        if top is None:
            return []
        replies = yield Pipe([Call("zrevrangebyscore", (key, top, f"({now}"),
                                   {"start": 0, "num": skip + limit, "withscores": True}) for key in sources])
        return _merge(replies)[skip:skip + limit]

    def _page_start(self, sources: list[str], offset: int, now: int) -> Op:
        """``(top, skip)``: the page starts ``skip`` entries into those scored <= ``top``.

        ``top`` is the least integer score with at most ``offset`` entries above it (binary search: one
        pipelined ZCOUNT per bucket per step, about log2 of the score range in ms). Fewer than ``skip +
        1`` entries share the scores in (top - 1, top], so the last fetch stays small.
        """
        def above(score: int) -> Op:
            replies = yield Pipe([Call("zcount", (key, f"({score}", "+inf")) for key in sources])
            return sum(int(reply) for reply in replies)

        heads = yield Pipe([Call("zrevrange", (key, 0, 0), {"withscores": True}) for key in sources])
        scores = [head[0][1] for head in heads if head]
        if not scores:
            return None, 0
        low, high = now, max(now, math.ceil(max(scores)))  # above(low) > offset >= above(high) == 0
        if (yield from above(low)) <= offset:
            return None, 0
        count_high = 0
        while high - low > 1:
            middle = (low + high) // 2
            count = yield from above(middle)
            if count <= offset:
                high, count_high = middle, count
            else:
                low = middle
        return high, offset - count_high


def _merge(replies: list[list[tuple[Any, float]]]) -> list[str]:
    """k-way merge of per-bucket ``(member, score)`` lists, each in ZREVRANGE order, deduplicated."""
    merged = heapq.merge(*[[(score, _text(member)) for member, score in reply] for reply in replies],
                         reverse=True)
    seen: set[str] = set()
    out = []
    for _score, member in merged:
        if member not in seen:  # a member in both its bucket and the legacy key (mid-migration): once
            seen.add(member)
            out.append(member)
    return out


SESSIONS = ShardedIndex(k.SESSIONS_INDEX)
ONLINE = ShardedIndex(k.ONLINE_INDEX)
INDEXES = (SESSIONS, ONLINE)


class _LegacyState:
    """Whether the pre-sharding keys still exist, as this process last saw it."""

    present = True
    checked_until = 0.0


_legacy = _LegacyState()


def forget_legacy_state() -> None:
    """Check the legacy keys again on the next write (after a migration, or between tests)."""
    _legacy.present, _legacy.checked_until = True, 0.0


def legacy_present() -> Op:
    """Whether writes must also drop members from the legacy keys (one EXISTS per LEGACY_RECHECK)."""
    now = time.monotonic()
    if now >= _legacy.checked_until:
        found = yield Call("exists", (SESSIONS.legacy_key, ONLINE.legacy_key))  # one slot: both are {global}
        _legacy.present, _legacy.checked_until = bool(found), now + LEGACY_RECHECK
    return _legacy.present


def migrate(index: ShardedIndex, sources: list[str], batch: int = 500, max_batches: int | None = None) -> Op:
    """Move every entry of ``sources`` (the legacy key, or buckets of another INDEX_BUCKETS) into its bucket.

    ZADD GT keeps a later score already in the bucket (the entry was written since). Returns how many
    entries moved. ZSCAN, not ranges: it tolerates the writes going on meanwhile.
    """
    moved = 0
    batches = 0
    targets = set(index.bucket_keys())
    for source in sources:
        cursor = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            cursor, entries = yield Call("zscan", (source, cursor), {"count": batch})
            scores = {_text(member): score for member, score in entries}
            scores = {member: score for member, score in scores.items()
                      if source not in targets or index.key_for(member) != source}
            if scores:
                calls = index.add(scores, legacy=False, gt=True)
                calls.append(Call("zrem", (source, *scores)))
                yield Pipe(calls)
                moved += len(scores)
            if int(cursor) == 0:
                break
    return moved
