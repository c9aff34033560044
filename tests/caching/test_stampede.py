"""Stampede protection: 20 concurrent misses run the loader once (threads and asyncio)."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from caching_app.service import cache_service, user_group

CALLERS = 20


@pytest.fixture(autouse=True)
def _patient_waiters(settings):
    """Waiters give up after LOCK_WAIT and load themselves; a loaded CI box must not trigger that here."""
    settings.WINKR_CACHING = {**settings.WINKR_CACHING, "LOCK_WAIT": 10.0}


def test_twenty_threads_missing_together_load_once():
    entry = cache_service.entry("match_recommendations", "hot", group=user_group(1))
    calls = []
    barrier = threading.Barrier(CALLERS)

    def loader():
        calls.append(1)
        time.sleep(0.2)
        return {"results": [1, 2, 3]}

    def caller(_):
        barrier.wait()
        return cache_service.get_or_set(entry, loader)

    with ThreadPoolExecutor(CALLERS) as pool:
        results = list(pool.map(caller, range(CALLERS)))
    assert len(calls) == 1
    assert results == [{"results": [1, 2, 3]}] * CALLERS


async def test_twenty_tasks_missing_together_load_once():
    entry = cache_service.entry("user_profile", "hot-async")
    calls = []

    async def loader():
        calls.append(1)
        await asyncio.sleep(0.2)
        return "value"

    results = await asyncio.gather(*(cache_service.aget_or_set(entry, loader) for _ in range(CALLERS)))
    assert len(calls) == 1
    assert results == ["value"] * CALLERS


def test_failed_loader_lets_the_next_caller_compute():
    entry = cache_service.entry("api_response", "flaky")
    barrier = threading.Barrier(2)
    outcomes = []

    def failing():
        barrier.wait()
        time.sleep(0.05)
        msg = "db down"
        raise RuntimeError(msg)

    def first():
        try:
            cache_service.get_or_set(entry, failing)
        except RuntimeError:
            outcomes.append("raised")

    thread = threading.Thread(target=first)
    thread.start()
    barrier.wait()
    time.sleep(0.01)
    assert cache_service.get_or_set(entry, lambda: "ok") == "ok"  # waits, then takes over the lock
    thread.join()
    assert outcomes == ["raised"]


def test_lock_holder_that_never_finishes_only_delays_others(settings):
    from caching_app.foundation.connections import get_redis

    entry = cache_service.entry("api_response", "stuck")
    get_redis("cache").set(entry.lock_key, "someone-else", px=60_000)
    settings.WINKR_CACHING = {**settings.WINKR_CACHING, "LOCK_WAIT": 0.2}
    start = time.monotonic()
    assert cache_service.get_or_set(entry, lambda: "computed") == "computed"
    assert time.monotonic() - start < 5.0
