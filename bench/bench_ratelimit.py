"""Rate limiting: our Lua sliding log vs DRF's SimpleRateThrottle on django-redis.

Both are driven through their DRF throttle classes (``allow_request``), on the allowed path,
with N requests already in the window. To keep N steady while timing, each call goes to the
next of ``number`` pre-filled keys, so a key grows by only one entry per repetition.
Then the overshoot: 8 processes x 200 requests on one key with a limit of 100.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time

from django.test import override_settings
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from caching_app.foundation.connections import get_redis
from ratelimit_app.limiter import RateLimitConfig, check_rate_limit
from ratelimit_app.throttling import RedisRateThrottle

HUGE = 10**9  # a limit never reached while timing: measure the allowed path
SIZES_QUICK = [10, 100, 1_000, 10_000]
SIZES_FULL = [*SIZES_QUICK, 100_000]
CALLS = {10: 1000, 100: 1000, 1_000: 400, 10_000: 40, 100_000: 4}


def _calls(bench, size: int) -> int:
    number = CALLS[size]
    return max(10, number // 20) if bench.quick else number  # what bench.compare will actually run


class OursThrottle(RedisRateThrottle):
    scope = "bench"
    keys: itertools.cycle

    def get_rate_key(self, request, view):
        return "custom", next(self.keys)


class DRFThrottle(SimpleRateThrottle):
    scope = "bench"
    rate = f"{HUGE}/hour"
    keys: itertools.cycle

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": next(self.keys)}


def _prefill_ours(config: RateLimitConfig, keys: list[str], size: int) -> None:
    client = get_redis("state")
    now_us = int(time.time() * 1e6)
    for key in keys:
        redis_key = config.redis_key(key)
        for start in range(0, size, 10_000):
            chunk = range(start, min(size, start + 10_000))
            client.zadd(redis_key, {f"pre-{i}": now_us - 1000 * (size - i) for i in chunk})
        client.pexpire(redis_key, config.window_ms)


def _prefill_drf(throttle: DRFThrottle, keys: list[str], size: int) -> None:
    now = time.time()
    history = [now - 0.001 * (size - i) for i in range(size)][::-1]  # DRF keeps newest first
    for key in keys:
        throttle.cache.set(throttle.cache_format % {"scope": "bench", "ident": key}, history, 3600)


def _hammer_ours(config, barrier, results):
    barrier.wait(timeout=30)
    results.put(sum(check_rate_limit(config, "overshoot").allowed for _ in range(200)))


class _Drf100(SimpleRateThrottle):
    rate = "100/hour"

    def get_cache_key(self, request, view):
        return "throttle_overshoot"


def _hammer_drf(request, barrier, results):
    barrier.wait(timeout=30)
    results.put(sum(_Drf100().allow_request(request, None) for _ in range(200)))


def _concurrent(target, args) -> int:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    return total


def run(bench) -> None:
    request = APIRequestFactory().get("/", REMOTE_ADDR="198.51.100.1")
    sizes = SIZES_QUICK if bench.quick else SIZES_FULL
    ours_us, drf_us = [], []
    with override_settings(WINKR_RATELIMIT={"RATES": {"bench": f"{HUGE}/hour"}}):
        config = RateLimitConfig(HUGE, 3600, endpoint="bench", key_type="custom")
        for size in sizes:
            bench.flush()
            keys = [f"client-{i}" for i in range(_calls(bench, size))]
            _prefill_ours(config, keys, size)
            _prefill_drf(DRFThrottle(), keys, size)
            OursThrottle.keys = itertools.cycle(keys)
            DRFThrottle.keys = itertools.cycle(keys)
            targets = {100: 2.0, 10_000: 5.0}
            result = bench.compare(
                "Rate limit", f"check with {size:,} requests in the window",
                ours=lambda: OursThrottle().allow_request(request, None),
                anchor=lambda: DRFThrottle().allow_request(request, None),
                anchor_name="DRF SimpleRateThrottle (django-redis)", number=CALLS[size],
                target=f">= {targets[size]:g}x faster" if size in targets else None,
                target_ratio=targets.get(size), repetitions=5 if size >= 100_000 else None,
            )
            ours_us.append(result.ours_median)
            drf_us.append(result.anchor_median)
        bench.flush()
    # Issue 6: "flat as the window grows" over the sizes it names (100 to 10,000); 100,000 is shown too.
    for size in sizes[3:]:
        flatness = ours_us[sizes.index(size)] / ours_us[0]
        bench.figure("Rate limit", f"ours at {size:,} / ours at {sizes[0]:,} entries", f"{flatness:.2f}", "x",
                     target="<= 1.5 (flat)", met=flatness <= 1.5)
    bench.chart("ratelimit_check_vs_window.png", "Rate-limit check cost vs requests in the window",
                sizes, {"winkr Lua sliding log": ours_us, "DRF SimpleRateThrottle": drf_us},
                "requests already in the window", "µs per check (log scale)", logx=True, logy=True)

    runs = 2 if bench.quick else 5
    ours_over = [_concurrent(_hammer_ours, (RateLimitConfig(100, 3600, endpoint=f"overshoot-{n}"),)) - 100
                 for n in range(runs)]
    drf_over = []
    for _ in range(runs):
        bench.flush()
        drf_over.append(_concurrent(_hammer_drf, (request,)) - 100)
    bench.figure("Rate limit", f"overshoot, 8 processes x 200 requests, limit 100, {runs} runs: winkr",
                 ", ".join(map(str, ours_over)), "requests", target="0", met=not any(ours_over))
    bench.figure("Rate limit", f"overshoot, 8 processes x 200 requests, limit 100, {runs} runs: DRF",
                 ", ".join(map(str, drf_over)), "requests")
