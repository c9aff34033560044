"""The redis component's judgement: eviction safety, replication, Cluster and Sentinel topology."""

from __future__ import annotations

import time

import pytest
import redis


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_state_alias_that_may_evict_is_degraded(spawn_redis, use_redis, operator):
    server = spawn_redis("--maxmemory", "50mb", "--maxmemory-policy", "allkeys-lru")
    use_redis(server.url)
    response = operator.get("/health/redis")
    body = response.json()
    assert response.status_code == 200  # degraded still serves traffic
    assert body["status"] == "degraded"
    state, cache = body["stats"]["state"], body["stats"]["cache"]
    assert state["status"] == "degraded"
    assert any("allkeys-lru" in problem and "noeviction" in problem for problem in state["problems"])
    assert cache["status"] == "healthy"  # the cache alias is allowed to evict
    assert operator.get("/health").json()["status"] == "degraded"


def test_evicted_keys_keep_the_state_store_degraded_until_reset(spawn_redis, use_redis, operator):
    server = spawn_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    admin = redis.Redis(port=server.port)
    payload = b"x" * 10_000
    for index in range(1000):
        admin.set(f"filler:{index}", payload)
    assert int(admin.info("stats")["evicted_keys"]) > 0
    admin.config_set("maxmemory-policy", "noeviction")
    use_redis(server.url)
    state = operator.get("/health/redis").json()["stats"]["state"]
    assert state["status"] == "degraded"
    assert state["maxmemory_policy"] == "noeviction"
    assert any("evicted" in problem for problem in state["problems"])
    admin.config_resetstat()
    admin.flushall()
    assert operator.get("/health/redis").json()["stats"]["state"]["status"] == "healthy"


@pytest.mark.slow
def test_replication_is_reported_and_a_broken_link_degrades(spawn_redis, use_redis, operator):
    primary = spawn_redis()
    replica = spawn_redis("--replicaof", "127.0.0.1", str(primary.port))
    replica_admin = redis.Redis(port=replica.port)
    assert _wait(lambda: replica_admin.info("replication").get("master_link_status") == "up")

    use_redis(primary.url)
    state = operator.get("/health/redis").json()["stats"]["state"]
    assert state["status"] == "healthy"
    [entry] = state["replication"]["replicas"]
    assert entry["address"] == f"127.0.0.1:{replica.port}"
    assert entry["state"] == "online"
    assert entry["lag_seconds"] <= 1

    use_redis(replica.url)
    state = operator.get("/health/redis").json()["stats"]["state"]
    assert state["replication"]["role"] == "replica"
    assert state["replication"]["link"] == "up"
    assert state["status"] == "healthy"
    primary.kill()
    assert _wait(lambda: replica_admin.info("replication").get("master_link_status") == "down")
    state = operator.get("/health/redis").json()["stats"]["state"]
    assert state["status"] == "degraded"
    assert any("link" in problem for problem in state["problems"])


@pytest.mark.cluster
def test_cluster_topology(redis_cluster, use_redis, operator):
    use_redis(f"redis://{redis_cluster.seeds[0]}/0", MODE="cluster", CLUSTER_NODES=redis_cluster.seeds)
    response = operator.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert {name: c["status"] for name, c in body["components"].items() if name in ("redis", "cache", "pubsub")} == {
        "redis": "healthy", "cache": "healthy", "pubsub": "healthy"}
    state = body["components"]["redis"]["stats"]["state"]
    assert state["cluster"]["state"] == "ok"
    assert state["cluster"]["slots_assigned"] == state["cluster"]["slots_ok"] == 16384
    assert len(state["nodes"]) == 3
    redis_cluster.flush()


def test_sentinel_primary_and_quorum(spawn_redis, spawn_sentinel, use_redis, operator):
    primary = spawn_redis()
    sentinel = spawn_sentinel(primary.port, quorum=1)
    use_redis(primary.url, MODE="sentinel", SENTINELS=[f"127.0.0.1:{sentinel.port}"], SENTINEL_SERVICE="mymaster")
    body = operator.get("/health/redis").json()
    state = body["stats"]["state"]
    assert state["status"] == "healthy", state
    assert state["sentinel"] == {"service": "mymaster", "primary": f"127.0.0.1:{primary.port}", "quorum": "ok"}


def test_sentinel_without_quorum_is_degraded(spawn_redis, spawn_sentinel, use_redis, operator):
    primary = spawn_redis()
    sentinel = spawn_sentinel(primary.port, quorum=2)  # one sentinel can never reach a quorum of two
    use_redis(primary.url, MODE="sentinel", SENTINELS=[f"127.0.0.1:{sentinel.port}"], SENTINEL_SERVICE="mymaster")
    state = operator.get("/health/redis").json()["stats"]["state"]
    assert state["status"] == "degraded"
    assert "NOQUORUM" in state["sentinel"]["quorum"]


@pytest.mark.slow
def test_sentinel_deployment_with_replica(redis_sentinel, use_redis, operator):
    # A replica still in its first full sync (state wait_bgsave/send_bulk) rightly reads as degraded.
    primary_admin = redis.Redis(port=redis_sentinel.primary.port)
    assert _wait(lambda: primary_admin.info("replication").get("slave0", {}).get("state") == "online")
    use_redis(redis_sentinel.primary.url, MODE="sentinel", SENTINELS=redis_sentinel.sentinel_addresses,
              SENTINEL_SERVICE=redis_sentinel.service)
    response = operator.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    state = body["components"]["redis"]["stats"]["state"]
    assert state["status"] == "healthy", state.get("problems")
    assert state["sentinel"]["primary"] == f"127.0.0.1:{redis_sentinel.primary.port}"
    assert state["sentinel"]["quorum"] == "ok"
    assert [r["address"] for r in state["replication"]["replicas"]] == [
        f"127.0.0.1:{redis_sentinel.replicas[0].port}"]
