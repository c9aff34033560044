"""A value computed at most once per interval per process, shared by every concurrent caller.

Load balancers poll ``/health`` anonymously, and anyone can: with each request running every
check, 300 requests at concurrency 50 exhausted the probes' 8 Redis connections and answered
277 x 503, so a flood made every pod look down. The anonymous status is the same for all
callers, so one computation serves them: the first caller after the interval computes (the
"leader"), the callers arriving meanwhile wait for its answer instead of starting their own,
and the answer is reused until the interval passes. Sync callers (Django views, in any thread)
and async callers share the same flight. Hand-written: the few lines it takes do not justify a
dependency, and no well-kept library offers a sync + async single-flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """``get()`` returns ``compute()``'s value, computed at most once per ``interval()`` seconds."""

    def __init__(self, compute: Callable[[], T], interval: Callable[[], float]):
        self._compute = compute
        self._interval = interval
        self._lock = threading.Lock()
        self._value: T | None = None
        self._expires = 0.0
        self._flight: _Flight[T] | None = None

    def fresh(self) -> T | None:
        """The shared value if it is still within its interval, else None (never computes)."""
        with self._lock:
            return self._value if self._value is not None and time.monotonic() < self._expires else None

    def get(self) -> T:
        with self._lock:
            if self._value is not None and time.monotonic() < self._expires:
                return self._value
            flight, leader = (self._flight, False) if self._flight is not None else (_Flight(), True)
            if leader:
                self._flight = flight
        if not leader:
            flight.done.wait()
        else:
            try:
                flight.value = self._compute()
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter, then raised in each
                flight.error = exc
            with self._lock:
                if flight.error is None:
                    self._value, self._expires = flight.value, time.monotonic() + max(0.0, float(self._interval()))
                self._flight = None
            flight.done.set()
        if flight.error is not None:
            raise flight.error
        return flight.value  # type: ignore[return-value]

    async def aget(self) -> T:
        """Async twin: a fresh value without leaving the event loop, else joins the same flight in a thread."""
        value = self.fresh()
        if value is not None:
            return value
        return await sync_to_async(self.get, thread_sensitive=False)()

    def clear(self) -> None:
        with self._lock:
            self._value, self._expires = None, 0.0
