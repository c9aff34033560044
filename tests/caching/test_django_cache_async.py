"""CACHES["default"]'s async methods: native redis.asyncio, same entries as the sync side, atomic aincr."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends import base as django_cache_base
from django.core.cache.backends.base import BaseCache

from caching_app import django_cache
from caching_app.foundation.connections import get_redis

NATIVE = ["aget", "aset", "aadd", "aget_many", "aset_many", "adelete", "adelete_many", "ahas_key", "aincr", "adecr",
          "atouch", "aclear", "aget_or_set"]


@pytest.fixture
def no_thread_hop(monkeypatch):
    """Django's BaseCache a* fallbacks call sync_to_async: make any such call fail the test."""

    def refuse(*args, **kwargs):
        msg = "a cache method fell back to sync_to_async"
        raise AssertionError(msg)

    monkeypatch.setattr(django_cache_base, "sync_to_async", refuse)


def test_every_async_method_is_ours():
    assert isinstance(caches["default"], django_cache.RedisCache)
    for name in NATIVE:
        method = getattr(type(caches["default"]), name)
        assert method is not getattr(BaseCache, name), name
        assert inspect.getmodule(inspect.unwrap(method)) is django_cache, name
        assert inspect.iscoroutinefunction(method), name


async def test_round_trips_without_a_thread_hop(no_thread_hop):
    assert await cache.aget("missing", "dflt") == "dflt"
    assert await cache.aset("k", {"a": [1, 2]}) is True
    assert await cache.aget("k") == {"a": [1, 2]}
    assert await cache.aadd("k", "other") is False
    assert await cache.aadd("new", b"\x00bytes") is True
    assert await cache.aget("new") == b"\x00bytes"
    assert await cache.ahas_key("k") is True
    assert await cache.aset_many({"m1": 1, "m2": "two", "m3": None}) == []
    assert await cache.aget_many(["m1", "m2", "m3", "nope"]) == {"m1": 1, "m2": "two", "m3": None}
    assert await cache.aget_or_set("gos", lambda: "computed") == "computed"
    assert await cache.aget_or_set("gos", "ignored") == "computed"
    assert await cache.atouch("k", 100) is True
    assert 0 < get_redis("cache").pttl(cache.make_key("k")) <= 100_000
    assert await cache.atouch("k", None) is True
    assert get_redis("cache").pttl(cache.make_key("k")) == -1
    assert await cache.atouch("nope", 10) is False
    assert await cache.adelete("k") is True
    assert await cache.adelete("k") is False
    assert await cache.adelete_many(["m1", "m2"]) == 2
    assert await cache.aget_many(["m1", "m2"]) == {}
    assert await cache.aset("gone", 1, timeout=0) is False
    assert await cache.ahas_key("gone") is False
    assert await cache.aclear() is True
    assert await cache.aget("new") is None


async def test_sync_and_async_read_each_others_entries(no_thread_hop):
    big = "x" * 5000  # compressed by the shared encode
    cache.set("from-sync", {"big": big}, 60)
    assert await cache.aget("from-sync") == {"big": big}
    await cache.aset("from-async", {"big": big}, 60)
    assert cache.get("from-async") == {"big": big}
    assert get_redis("cache").get(cache.make_key("from-async")) == get_redis("cache").get(
        cache.make_key("from-sync"))  # same bytes: one encode, not a copy
    await cache.aset("v2", "two", version=2)
    assert cache.get("v2", version=2) == "two" and cache.get("v2") is None
    assert await caches["default"].aget("v2", version=2) == "two"


async def test_aincr_is_atomic_under_concurrent_tasks(no_thread_hop):
    await cache.aset("counter", 0)
    results = await asyncio.gather(*(cache.aincr("counter") for _ in range(200)))
    assert sorted(results) == list(range(1, 201))  # each task saw its own step: no lost update
    assert await cache.aget("counter") == 200
    assert cache.get("counter") == 200
    assert await cache.adecr("counter", 50) == 150
    with pytest.raises(ValueError):
        await cache.aincr("no-such-counter")
    assert await cache.ahas_key("no-such-counter") is False  # never created by incr


async def test_aincr_on_a_number_beyond_64_bits_keeps_working():
    await cache.aset("huge", 2**70)
    assert await cache.aincr("huge", 5) == 2**70 + 5


async def test_a_planted_pickle_is_an_async_miss(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class WritesMarker:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    get_redis("cache").set(cache.make_key("victim"), pickle.dumps(WritesMarker()))
    assert await cache.aget("victim", "miss") == "miss"
    assert await cache.aget_many(["victim"]) == {}
    assert await cache.aget_or_set("victim", "recomputed") in ("recomputed", None)
    assert not marker.exists()


async def test_redis_down_is_a_miss_with_ignore_exceptions(spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.5)
    await cache.aset("k", 1)
    assert await cache.aget("k") == 1
    server.stop()
    assert await cache.aget("k", "fallback") == "fallback"
    assert await cache.aset("k", 2) is None
    assert await cache.aget_many(["k"]) == {}
    server.start()
    assert await cache.aset("k", 3) is True  # recovery without restart
    assert await cache.aget("k") == 3
