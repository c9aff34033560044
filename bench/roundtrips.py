"""Count Redis round trips for real: client-side writes per node, and the servers' own counters.

redis.asyncio writes one command, or one node's whole share of a pipeline, with a single
``send_packed_command`` and then reads the replies: one call is one round trip to that node. The servers'
``INFO`` (commands executed per type, read events) confirm what arrived, from the other end.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis
from redis.asyncio.connection import AbstractConnection

__all__ = ["RoundTrips", "ServerCounts"]


class RoundTrips:
    """``with RoundTrips() as trips: ...`` -> ``trips.by_node`` ({"host:port": requests written}).

    Wraps ``AbstractConnection.send_packed_command`` (the real call still runs) for the block only; a
    health-check PING redis-py sends on its own is counted too, as it is one more round trip.
    """

    def __init__(self) -> None:
        self.by_node: Counter[str] = Counter()

    def __enter__(self) -> RoundTrips:
        self.original = AbstractConnection.send_packed_command
        original, counts = self.original, self.by_node

        async def counting(connection: Any, command: Any, check_health: bool = True) -> None:
            counts[f"{getattr(connection, 'host', '?')}:{getattr(connection, 'port', '?')}"] += 1
            await original(connection, command, check_health)

        setattr(AbstractConnection, "send_packed_command", counting)  # noqa: B010 - a method of the class, for the block
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(AbstractConnection, "send_packed_command", self.original)  # noqa: B010

    @property
    def total(self) -> int:
        return sum(self.by_node.values())


class ServerCounts:
    """Deltas of one redis-server's ``INFO commandstats`` calls and ``total_reads_processed`` between
    :meth:`start` and :meth:`stop` (the INFO calls themselves are taken out)."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)

    def _snapshot(self) -> tuple[dict[str, int], int]:
        info = self.client.info("all")
        calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in info.items()
                 if name.startswith("cmdstat_") and isinstance(value, dict)}
        return calls, int(info["total_reads_processed"])

    def start(self) -> None:
        self.before = self._snapshot()

    def stop(self) -> tuple[dict[str, int], int]:
        """(commands run per type, read events) since :meth:`start`, without the two INFO requests."""
        calls, reads = self._snapshot()
        delta = {name: count - self.before[0].get(name, 0) for name, count in calls.items()}
        delta["info"] = delta.get("info", 0) - 1
        return {name: count for name, count in delta.items() if count}, reads - self.before[1] - 1

    def close(self) -> None:
        self.client.close()
