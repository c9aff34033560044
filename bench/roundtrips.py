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

    Wraps ``send_packed_command`` (the real call still runs) for the block only, on redis.asyncio's
    ``AbstractConnection`` and on every connection class that defines its own, and ``send_batch`` (winkr's
    pipeline write, caching_app.foundation.clients); a call made from inside another is counted once.
    A health-check PING redis-py sends on its own is counted too, as it is one more round trip.
    """

    def __init__(self) -> None:
        self.by_node: Counter[str] = Counter()
        self.originals: list[tuple[type, str, Any]] = []

    def __enter__(self) -> RoundTrips:
        from caching_app.foundation import clients  # noqa: F401 - its connection classes are subclasses below

        counts, sending = self.by_node, set[int]()
        for cls, name in _classes_defining_send(AbstractConnection):
            original = cls.__dict__[name]

            async def counting(connection: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if id(connection) in sending:  # a class's method calling its base's (or the other one): one write
                    return await _original(connection, *args, **kwargs)
                counts[f"{getattr(connection, 'host', '?')}:{getattr(connection, 'port', '?')}"] += 1
                sending.add(id(connection))
                try:
                    return await _original(connection, *args, **kwargs)
                finally:
                    sending.discard(id(connection))

            self.originals.append((cls, name, original))
            setattr(cls, name, counting)  # a method of the class, for the block
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in self.originals:
            setattr(cls, name, original)
        self.originals = []

    @property
    def total(self) -> int:
        return sum(self.by_node.values())


#: The methods that write a request: redis-py's, and the batch write of winkr's connections (clients.py).
SENDING_METHODS = ("send_packed_command", "send_batch")


def _classes_defining_send(root: type) -> list[tuple[type, str]]:
    """``(class, method)`` for ``root`` and its subclasses (mixins among their bases included) that define one
    of :data:`SENDING_METHODS`."""
    found: list[tuple[type, str]] = []
    pending = [root]
    while pending:
        cls = pending.pop()
        for candidate in (cls, *cls.__mro__):
            for name in SENDING_METHODS:
                if name in candidate.__dict__ and (candidate, name) not in found:
                    found.append((candidate, name))
        pending.extend(cls.__subclasses__())
    return found


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
