"""Failover at the application level: authenticated API traffic across a Cluster master crash and a
Sentinel failover, through Django's test client in this process (the apps on ``use_redis``).

While the topology changes, a request may get a 503 JSON; never a 500. Afterwards every endpoint works
again and what was written before the crash (device sessions, a logout) is still in force.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
import redis
from rest_framework.test import APIClient

from caching_app.devservers.redis_servers import LocalCluster
from caching_app.foundation.connections import get_async_redis, get_redis, redis_connections
from caching_app.foundation.keys import make_key

PASSWORD = "correct-horse-battery-staple-42"
# redis-py 8.2+ names "no node answers" RedisClusterUnreachableError, which is not a RedisError.
NAMED_OUTAGE = hasattr(redis.exceptions, "RedisClusterUnreachableError")
UNREACHABLE = getattr(redis.exceptions, "RedisClusterUnreachableError", ())


@pytest.fixture
def client():
    api = APIClient()
    api.raise_request_exception = False  # a crash must show up as the 500 a user would get
    return api


@pytest.fixture(autouse=True)
def _roomy_limits(settings):
    """Per-user limits the test never reaches: every refusal must come from the fault."""
    settings.WINKR_RATELIMIT = {**settings.WINKR_RATELIMIT, "RATES": {
        "anon": ["100000/s"], "user": ["100000/s"], "login": ["100000/s"]}}
    settings.WINKR_REALTIME = {**settings.WINKR_REALTIME, "CHAT_RATE_LIMIT": {"requests": 100000, "window": 10}}


def register(client: APIClient, name: str) -> dict:
    created = client.post("/api/auth/register/", {"username": name, "password": PASSWORD}, format="json")
    assert created.status_code == 201, created.content
    reply = client.post("/api/auth/token/", {"username": name, "password": PASSWORD}, format="json")
    assert reply.status_code == 200, reply.content
    return {**reply.json(), "username": name, "id": created.json()["id"]}


def one_round(client: APIClient, alice: dict, bob_id: int) -> list[tuple[str, int, str | None]]:
    """The mixed requests of one user: (name, status, error code)."""
    auth = {"HTTP_AUTHORIZATION": f"Bearer {alice['access']}"}
    replies = {
        "sessions": client.get("/api/sessions/", **auth),
        "profile_me": client.get("/api/profiles/me/", **auth),
        "matches": client.get("/api/matches/", **auth),
        "chat_post": client.post(f"/api/chat/{bob_id}/messages/", {"text": "hi"}, format="json", **auth),
        "ratelimit_status": client.get("/api/ratelimit/status/", **auth),
        "login": client.post("/api/auth/token/", {"username": alice["username"], "password": PASSWORD},
                             format="json"),
    }
    outcomes = []
    for name, reply in replies.items():
        code = None
        if reply.status_code >= 400:
            body = reply.json() if reply.get("Content-Type", "").startswith("application/json") else {}
            code = body.get("code") or "NOT-JSON"
        outcomes.append((name, reply.status_code, code))
    return outcomes


def drive_until_healthy(client, alice, bob_id, timeout: float = 40.0) -> tuple[Counter, float]:
    """Rounds of traffic until one round fully succeeds; every answer on the way is tallied."""
    seen: Counter = Counter()
    started = time.monotonic()
    while True:
        outcomes = one_round(client, alice, bob_id)
        seen.update((status, code) for _, status, code in outcomes)
        bad = [o for o in outcomes if o[1] != 503 and o[1] >= 300]
        assert not bad, f"not a 2xx or 503 during failover: {bad}"
        assert all(code != "NOT-JSON" for _, _, code in outcomes), outcomes
        if all(200 <= status < 300 for _, status, _ in outcomes):
            return seen, time.monotonic() - started
        if time.monotonic() - started > timeout:
            msg = f"no fully successful round within {timeout}s: {outcomes}"
            raise AssertionError(msg)
        time.sleep(0.1)


def prepare(client) -> tuple[dict, dict, dict]:
    alice, bob = register(client, "alice"), register(client, "bob")
    phone = client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json").json()
    assert client.post("/api/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {phone['access']}").status_code == 204
    return alice, bob, phone


def wait_replicated(primary_port: int, timeout: float = 10.0) -> None:
    """Until every replica of this primary has acknowledged all its writes so far.

    (``WAIT`` would only cover writes made on its own connection, not the app's.)
    """
    primary = redis.Redis(port=primary_port)
    target = primary.info("replication")["master_repl_offset"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = primary.info("replication")
        replicas = [value for key, value in info.items() if key.startswith("slave") and isinstance(value, dict)]
        if replicas and all(r.get("state") == "online" and int(r["offset"]) >= target for r in replicas):
            return
        time.sleep(0.05)
    msg = f"replicas of {primary_port} did not catch up with offset {target}: {info}"
    raise AssertionError(msg)


def still_in_force(client, alice, phone) -> None:
    sessions = client.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {alice['access']}")
    assert sessions.status_code == 200 and alice["session_id"] in {s["id"] for s in sessions.json()}
    refused = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_cluster_master_killed_app_carries_on(cluster_with_replicas, use_redis, client, settings):
    cluster = cluster_with_replicas
    use_redis(MODE="cluster", CLUSTER_NODES=cluster.seeds, URL=f"redis://{cluster.seeds[0]}/0")
    alice, bob, phone = prepare(client)
    assert all(200 <= status < 300 for _, status, _ in one_round(client, alice, bob["id"]))

    # Kill the master holding alice's keys (her hash tag): her sessions and revocations live there.
    state = get_redis("state")
    victim_port = state.get_node_from_key(make_key("session", tag=alice["id"])).port
    wait_replicated(victim_port)
    next(node for node in cluster.nodes if node.port == victim_port).kill()

    seen, took = drive_until_healthy(client, alice, bob["id"])
    print(f"\ncluster failover: served fully again after {took:.1f}s; answers on the way {dict(seen)}")
    assert state.get_node_from_key(make_key("session", tag=alice["id"])).port != victim_port
    still_in_force(client, alice, phone)
    for _ in range(5):
        assert all(200 <= status < 300 for _, status, _ in one_round(client, alice, bob["id"]))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sentinel_failover_app_follows_new_primary(redis_sentinel, use_redis, client, settings):
    use_redis(MODE="sentinel", SENTINELS=redis_sentinel.sentinel_addresses, SENTINEL_SERVICE=redis_sentinel.service)
    alice, bob, phone = prepare(client)
    assert all(200 <= status < 300 for _, status, _ in one_round(client, alice, bob["id"]))
    old_port = redis_sentinel.primary.port
    wait_replicated(old_port)
    redis_sentinel.primary.kill()

    seen, took = drive_until_healthy(client, alice, bob["id"])
    new_port = redis_sentinel.current_primary_port()
    print(f"\nsentinel failover {old_port} -> {new_port}: served fully again after {took:.1f}s; "
          f"answers on the way {dict(seen)}")
    assert new_port not in (None, old_port)
    still_in_force(client, alice, phone)
    for _ in range(5):
        assert all(200 <= status < 300 for _, status, _ in one_round(client, alice, bob["id"]))



@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_the_whole_cluster_down_is_a_503_and_back_without_a_restart(tmp_path, use_redis, client):
    """With no node answering, redis-py raises RedisClusterUnreachableError, which is not a RedisError: the
    boundaries that turn an outage into a 503 (or fail open) must still see an outage, not crash."""
    with LocalCluster(tmp_path / "cluster", masters=3) as cluster:
        use_redis(MODE="cluster", CLUSTER_NODES=cluster.seeds, URL=f"redis://{cluster.seeds[0]}/0")
        alice, bob, _ = prepare(client)
        assert all(200 <= status < 300 for _, status, _ in one_round(client, alice, bob["id"]))
        for node in cluster.nodes:
            node.kill()
        seen: Counter = Counter()
        for _ in range(3):  # past redis-py's refresh pacing (a second): the later rounds see "unreachable"
            outcomes = one_round(client, alice, bob["id"])
            seen.update((status, code) for _, status, code in outcomes)
            assert not [o for o in outcomes if o[1] != 503 and o[1] >= 300], outcomes
            assert all(code != "NOT-JSON" for _, _, code in outcomes), outcomes
            time.sleep(1.1)
        assert any(status == 503 for status, _ in seen), seen
        for path in ("/health", "/health/readiness"):
            reply = client.get(path)
            assert reply.status_code == 503 and reply["Content-Type"].startswith("application/json"), (
                path, reply.status_code, reply.content[:300])
        assert client.get("/health/liveness").status_code == 200  # the process is fine: no restart wanted
        state = get_redis("state")
        for call in (lambda: state.get("k"), lambda: state.pipeline().get("k").set("k", 1).execute()):
            with pytest.raises(redis.ConnectionError) as raised:  # a RedisError, as every boundary expects
                call()
            assert not NAMED_OUTAGE or isinstance(raised.value.__cause__, UNREACHABLE), repr(raised.value.__cause__)
        for node in cluster.nodes:
            node.start()
        cluster.wait_ok()
        drive_until_healthy(client, alice, bob["id"])
        assert client.get("/health/readiness").status_code == 200



@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.skipif(not NAMED_OUTAGE, reason="redis-py before 8.2 has no RedisClusterUnreachableError")
async def test_the_async_cluster_client_reports_the_whole_cluster_down_as_a_connection_error(tmp_path, use_redis):
    with LocalCluster(tmp_path / "cluster", masters=3) as cluster:
        use_redis(MODE="cluster", CLUSTER_NODES=cluster.seeds, URL=f"redis://{cluster.seeds[0]}/0")
        client = get_async_redis("state")
        try:
            await client.set("k", 1)  # the client has its slot map
            for node in cluster.nodes:
                node.kill()
            causes = []
            for _ in range(3):  # past redis-py's refresh pacing (a second): the last calls find no node at all
                for call in (lambda: client.get("k"), lambda: client.pipeline().get("k").set("k", 1).execute()):
                    with pytest.raises(redis.ConnectionError) as raised:
                        await call()
                    causes.append(raised.value.__cause__)
                await asyncio.sleep(1.1)
            assert isinstance(causes[-1], UNREACHABLE) and isinstance(causes[-2], UNREACHABLE), causes
        finally:
            await redis_connections.aclose_loop_clients()
