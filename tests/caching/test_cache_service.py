"""CacheService against real Redis: kinds and TTLs, group invalidation, stale serving, errors."""

import pytest
from django.test import override_settings

from caching_app import metrics
from caching_app.foundation.connections import get_redis
from caching_app.service import KINDS, CacheService, cache_service, user_group
from health_app.metrics import cache_summary


def raw_ttl(entry):
    return get_redis("cache").pttl(entry.key) / 1000


def test_typed_operations_round_trip():
    assert cache_service.get_user_profile(42) is None
    assert cache_service.cache_user_profile(42, {"display_name": "Ada"})
    assert cache_service.get_user_profile(42) == {"display_name": "Ada"}
    assert cache_service.invalidate_user_profile(42)
    assert cache_service.get_user_profile(42) is None
    for store, fetch, value in [
        (cache_service.cache_photo_metadata, cache_service.get_photo_metadata, [{"id": 1}]),
        (cache_service.cache_match_recommendations, cache_service.get_match_recommendations, {"results": []}),
        (cache_service.cache_api_response, cache_service.get_api_response, {"a": 1}),
        (cache_service.cache_geospatial, cache_service.get_geospatial, {"near": [1]}),
    ]:
        key = 7 if store.__name__.startswith(("cache_photo", "cache_match")) else "k"
        store(key, value)
        assert fetch(key) == value


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_uses_its_ttl_with_downward_jitter(kind, settings):
    ttls = {"user_profile": 100, "photo_metadata": 200, "match_recommendations": 300, "api_response": 400,
            "geospatial": 500}
    with override_settings(WINKR_CACHING={**settings.WINKR_CACHING, "TTLS": ttls, "STALE_GRACE": 0,
                                          "TTL_JITTER": 0.1}):
        entries = [cache_service.entry(kind, index) for index in range(30)]
        for entry in entries:
            cache_service.set(entry, "v")
        lifetimes = [raw_ttl(entry) for entry in entries]
    assert all(ttls[kind] * 0.9 - 1 <= t <= ttls[kind] for t in lifetimes), lifetimes
    assert len({round(t) for t in lifetimes}) > 3, "jitter spreads expiry"


def test_explicit_ttl_and_stale_grace(settings):
    with override_settings(WINKR_CACHING={**settings.WINKR_CACHING, "STALE_GRACE": 20,
                                                "TTL_JITTER": 0}):
        entry = cache_service.entry("api_response", "x")
        cache_service.set(entry, 1, ttl=10)
        assert 29 <= raw_ttl(entry) <= 30


def test_unknown_kind_without_ttl_names_the_setting():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="TTLS"):
        cache_service.set(cache_service.entry("nope", 1), 1)


def test_group_invalidation_is_one_write_without_scan():
    entries = [cache_service.entry("user_profile", 42, n, group=user_group(42)) for n in range(50)]
    other = cache_service.entry("user_profile", 43, group=user_group(43))
    for entry in [*entries, other]:
        cache_service.set(entry, "v")
    client = get_redis("cache")
    client.config_resetstat()
    assert cache_service.invalidate_user(42)
    commands = {name: stat["calls"] for name, stat in client.info("commandstats").items() if "config" not in name}
    assert commands == {"cmdstat_set": 1}, commands  # no SCAN, KEYS or per-key DEL
    assert all(cache_service.get(entry) is None for entry in entries)
    assert cache_service.get(other) == "v"
    cache_service.set(entries[0], "new")
    assert cache_service.get(entries[0]) == "new"


def test_value_loaded_before_invalidation_is_never_served():
    """A reader that loaded old data before an invalidation cannot resurrect it."""
    entry = cache_service.entry("user_profile", 1, group=user_group(1))

    def slow_loader():
        cache_service.invalidate_user(1)  # the row changes while we are loading
        return "old"

    assert cache_service.get_or_set(entry, slow_loader) == "old"
    assert cache_service.get(entry) is None
    assert cache_service.get_or_set(entry, lambda: "new") == "new"


def test_lost_generation_key_makes_misses_not_stale_hits():
    entry = cache_service.entry("user_profile", 5, group=user_group(5))
    cache_service.set(entry, "v")
    get_redis("cache").delete(entry.gen_key)  # evicted
    assert cache_service.get(entry) is None


def test_expired_value_served_stale_while_another_caller_recomputes():
    service = CacheService()
    entry = service.entry("api_response", "stale")
    service.set(entry, "old", ttl=60)
    service.clock = lambda: 10**11  # every entry is past its fresh lifetime now
    lock = get_redis("cache").lock(entry.lock_key, timeout=5)
    assert lock.acquire(blocking=False)  # someone else is recomputing
    assert service.get_or_set(entry, lambda: pytest.fail("must not load")) == "old"
    lock.release()
    assert service.get_or_set(entry, lambda: "new") == "new"


def test_msgpack_and_compression_through_the_service(settings):
    with override_settings(WINKR_CACHING={**settings.WINKR_CACHING, "SERIALIZER": "msgpack",
                                                "COMPRESS_MIN_BYTES": 100}):
        entry = cache_service.entry("api_response", "big")
        cache_service.set(entry, {"text": "y" * 10000})
        assert len(get_redis("cache").get(entry.key)) < 1000
        assert cache_service.get(entry) == {"text": "y" * 10000}


def test_disabled_service_always_loads(settings):
    with override_settings(WINKR_CACHING={**settings.WINKR_CACHING, "ENABLED": False}):
        calls = []
        entry = cache_service.entry("api_response", "off")
        for _ in range(2):
            cache_service.get_or_set(entry, lambda: calls.append(1) or 1)
        assert len(calls) == 2
        assert not get_redis("cache").exists(entry.key)


def test_corrupt_entry_is_a_counted_miss():
    entry = cache_service.entry("api_response", "corrupt")
    get_redis("cache").set(entry.key, b"\x99garbage")
    before = metrics.ERRORS.labels("api_response")._value.get()
    assert cache_service.get_or_set(entry, lambda: "fresh") == "fresh"
    assert metrics.ERRORS.labels("api_response")._value.get() > before  # counted at each read
    assert cache_service.get(entry) == "fresh"


def test_metrics_and_hit_ratio():
    entry = cache_service.entry("photo_metadata", "ratio")
    before = cache_summary().get("photo_metadata", {"hits": 0, "misses": 0})
    sets_before = metrics.SETS.labels("photo_metadata")._value.get()
    cache_service.get_or_set(entry, lambda: 1)
    for _ in range(3):
        cache_service.get_or_set(entry, lambda: 1)
    after = cache_summary()["photo_metadata"]
    assert after["hits"] - before["hits"] == 3
    assert after["misses"] - before["misses"] == 1
    assert metrics.SETS.labels("photo_metadata")._value.get() - sets_before == 1
    assert 0 < after["ratio"] <= 1


async def test_async_twins():
    entry = cache_service.entry("user_profile", 9, group=user_group(9))
    assert await cache_service.aget(entry) is None

    async def load():
        return {"v": 1}

    assert await cache_service.aget_or_set(entry, load) == {"v": 1}
    assert await cache_service.aget(entry) == {"v": 1}
    assert await cache_service.ainvalidate_group(user_group(9))
    assert await cache_service.aget(entry) is None
    assert await cache_service.aset(entry, 2)
    assert await cache_service.ainvalidate(entry)
    assert await cache_service.aget(entry) is None
