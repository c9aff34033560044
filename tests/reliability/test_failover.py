"""The connection layer through real failures: Cluster and Sentinel failover, a slow server."""

from __future__ import annotations

import time

import pytest
import redis

from caching_app.devservers.redis_servers import wait_replicas_caught_up
from caching_app.foundation.connections import get_redis


def _until_ok(operation, timeout: float = 30.0):
    """Retry ``operation`` until it succeeds; returns (result, failures seen on the way)."""
    failures = 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            return operation(), failures
        except redis.RedisError:
            failures += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.cluster
def test_cluster_master_killed_fails_over_and_app_carries_on(cluster_with_replicas, use_redis):
    cluster = cluster_with_replicas
    use_redis(MODE="cluster", CLUSTER_NODES=cluster.seeds, URL=f"redis://{cluster.seeds[0]}/0")
    client = get_redis("state")
    for index in range(50):
        client.set(f"before-{index}", index)
    victim_port = client.get_node_from_key("before-0").port
    wait_replicas_caught_up(victim_port)  # the replica has every write before the crash
    victim = next(node for node in cluster.nodes if node.port == victim_port)
    victim.kill()

    value, failures = _until_ok(lambda: client.get("before-0"))
    assert value == b"0"
    assert client.get_node_from_key("before-0").port != victim_port
    for index in range(50):
        assert client.get(f"before-{index}") == str(index).encode()
        client.set(f"after-{index}", index)
    assert client.get("after-49") == b"49"


@pytest.mark.slow
def test_sentinel_failover_app_follows_new_primary(redis_sentinel, use_redis):
    use_redis(MODE="sentinel", SENTINELS=redis_sentinel.sentinel_addresses,
              SENTINEL_SERVICE=redis_sentinel.service)
    client = get_redis("state")
    client.set("kept", "yes")
    wait_replicas_caught_up(redis_sentinel.primary.port)
    old_port = redis_sentinel.primary.port
    redis_sentinel.primary.kill()

    redis_sentinel.wait_for(lambda: redis_sentinel.current_primary_port() not in (None, old_port), timeout=40)
    value, _ = _until_ok(lambda: client.get("kept"))
    assert value == b"yes"
    assert client.set("after-failover", 1) is True
    new_primary = redis.Redis(port=redis_sentinel.current_primary_port())
    assert new_primary.get("after-failover") == b"1"


def test_slow_server_fails_at_the_configured_timeout(spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, READ_TIMEOUT=0.3, WRITE_TIMEOUT=0.3, MAX_RETRIES=0)
    client = get_redis("state")
    client.set("k", 1)
    redis.Redis(port=server.port).client_pause(3000, all=True)
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.get("k")
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 1.5, f"gave up after {elapsed:.2f}s instead of the 0.3s timeout"
