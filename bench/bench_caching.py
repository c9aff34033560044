"""caching_app: cached vs uncached profile GETs through the full stack, and @cached's overhead."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import AsyncClient

from caching_app.conf import caching_settings
from caching_app.decorators import cached
from caching_app.serializers import CacheSerializer
from caching_app.service import cache_service
from winkr.demo.models import Profile

PROFILE = {"user_id": 1, "display_name": "Ada", "bio": "x" * 200, "age": 36, "gender": "woman",
           "interests": ["hiking", "jazz", "chess"], "updated_at": "2025-01-01T00:00:00Z"}


@cached(kind="user_profile", key="{user_id}")
def profile_by_id(user_id: int) -> dict:
    return PROFILE


@cached(kind="user_profile", key="{user_id}", group="user:{user_id}")
def grouped_profile_by_id(user_id: int) -> dict:
    return PROFILE


def _profile_gets(bench) -> None:
    """Through Django's async handler on one long-lived event loop, as under an ASGI server (the profile GET
    is an async view: under the sync test client it would run in a one-off loop per request)."""
    user = get_user_model().objects.create_user(username="bench-viewer")
    target = get_user_model().objects.create_user(username="bench-target")
    Profile.objects.update_or_create(user=target, defaults={"display_name": "Target", "bio": "b" * 300,
                                                            "interests": ["a", "b", "c"]})
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    client = AsyncClient()
    client.force_login(user)
    url = f"/api/profiles/{target.pk}/"

    def get() -> None:
        response = asyncio.run_coroutine_threadsafe(client.get(url), loop).result(timeout=30)
        assert response.status_code == 200

    def cached_get():
        caching_settings.ENABLED = True  # instance attribute: no settings reload inside the timed loop
        get()

    def uncached_get():
        caching_settings.ENABLED = False
        get()

    try:
        result = bench.compare("caching", "GET /api/profiles/{id}/ full stack: cached (hit)", ours=cached_get,
                               anchor=uncached_get, anchor_name="same view, caching off", number=400,
                               target="faster than uncached", target_ratio=1.0)
    finally:
        caching_settings.reload()
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(timeout=10)
    bench.figure("caching", "GET /api/profiles/{id}/ cached", round(1e6 / result.ours_median), "requests/s")
    bench.figure("caching", "GET /api/profiles/{id}/ uncached", round(1e6 / result.anchor_median), "requests/s")


def _decorator_overhead(bench) -> None:
    profile_by_id(1)
    grouped_profile_by_id(1)
    cache.set("bench-profile", PROFILE, 600)
    bench.compare("caching", "@cached hit (ungrouped key)", ours=lambda: profile_by_id(1),
                  anchor=lambda: cache.get("bench-profile"), anchor_name="django-redis cache.get",
                  number=3000, target="within 10%", target_ratio=1 / 1.1)
    bench.compare("caching", "@cached hit (grouped key: MGET with generation)", ours=lambda: grouped_profile_by_id(1),
                  anchor=lambda: cache.get("bench-profile"), anchor_name="django-redis cache.get",
                  number=3000, target="within 10%", target_ratio=1 / 1.1)


def _stampede(bench) -> None:
    entry = cache_service.entry("match_recommendations", "bench-stampede")
    calls = []
    barrier = threading.Barrier(20)

    def loader():
        calls.append(1)
        time.sleep(0.05)
        return [1, 2, 3]

    def caller(_):
        barrier.wait()
        return cache_service.get_or_set(entry, loader)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(caller, range(20)))
    bench.figure("caching", "loader runs for 20 concurrent misses", len(calls), "calls", target="1",
                 met=len(calls) == 1)


def _compression(bench) -> None:
    payload = [dict(PROFILE, user_id=n) for n in range(20)]
    plain = len(CacheSerializer("json").dumps(payload))
    packed = len(CacheSerializer("json", compress_min_bytes=2048).dumps(payload))
    bench.figure("caching", "20 recommendations: JSON bytes, plain -> zlib", f"{plain} -> {packed}", "bytes")


def _async_get(bench) -> None:
    """CACHES["default"].aget (native redis.asyncio) vs django-redis' aget (sync_to_async) on the same config."""
    from django_redis.cache import RedisCache as DjangoRedisCache

    from caching_app.django_cache import RedisCache

    params = copy.deepcopy(settings.CACHES["default"])
    location = params.pop("LOCATION")
    params.pop("BACKEND")
    ours, theirs = RedisCache(location, params), DjangoRedisCache(location, params)
    ours.set("bench-aget", PROFILE, 600)
    loop = asyncio.new_event_loop()

    async def gather(cache_, n: int) -> None:
        await asyncio.gather(*(cache_.aget("bench-aget") for _ in range(n)))

    try:
        assert loop.run_until_complete(ours.aget("bench-aget")) == PROFILE
        assert loop.run_until_complete(theirs.aget("bench-aget")) == PROFILE
        bench.compare("caching", "cache.aget hit (Django cache API, async)",
                      ours=lambda: loop.run_until_complete(ours.aget("bench-aget")),
                      anchor=lambda: loop.run_until_complete(theirs.aget("bench-aget")),
                      anchor_name="django-redis aget (sync_to_async)", number=1000, target="faster",
                      target_ratio=1.0)
        bench.compare("caching", "cache.aget hit x50 concurrent (asyncio.gather)",
                      ours=lambda: loop.run_until_complete(gather(ours, 50)),
                      anchor=lambda: loop.run_until_complete(gather(theirs, 50)),
                      anchor_name="django-redis aget x50 (sync_to_async)", number=40, target="faster",
                      target_ratio=1.0)
    finally:
        loop.close()


def run(bench) -> None:
    _async_get(bench)
    _decorator_overhead(bench)
    _profile_gets(bench)
    _stampede(bench)
    _compression(bench)
