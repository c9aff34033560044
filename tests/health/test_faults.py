"""A Redis that dies, hangs or comes back: health answers within its deadline and recovers by itself."""

from __future__ import annotations

import time

import pytest
import redis

from health_app.components.base import HealthCheck

pytestmark = pytest.mark.django_db


def _timed_get(client, path):
    start = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - start


def test_redis_killed_then_restarted(spawn_redis, use_redis, operator, anon):
    server = spawn_redis()
    use_redis(server.url)
    assert operator.get("/health").status_code == 200

    server.kill()
    response, elapsed = _timed_get(operator, "/health")
    body = response.json()
    assert response.status_code == 503, body
    assert elapsed < 2.0 + 1.0  # WINKR_HEALTH["TIMEOUT"] in these tests, plus slack for a slow machine
    assert body["status"] == "unhealthy"
    redis_component = body["components"]["redis"]
    assert redis_component["ping"] == "failed"
    assert redis_component["stats"]["state"]["status"] == "unhealthy"
    assert "ConnectionError" in redis_component["stats"]["state"]["error"]
    for name in ("redis", "cache", "pubsub"):
        assert body["components"][name]["status"] == "unhealthy", name
    assert anon.get("/health").status_code == 503
    assert anon.get("/health/redis").status_code == 401  # details stay private when down, too
    assert operator.get("/health/cache").status_code == 503

    liveness, elapsed = _timed_get(anon, "/health/liveness")
    assert liveness.status_code == 200 and elapsed < 0.5
    readiness = anon.get("/health/readiness")
    assert readiness.status_code == 503
    assert readiness.json()["components"] == {"redis": "unhealthy", "database": "healthy"}
    assert "127.0.0.1" not in readiness.content.decode()  # the open endpoint does not name hosts

    server.start()  # same port, same Django process, nothing reset
    response = operator.get("/health")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "healthy"
    assert anon.get("/health/readiness").status_code == 200


@pytest.mark.slow
def test_hung_redis_fails_the_probe_within_the_timeout(spawn_redis, use_redis, operator, anon, configure_health):
    server = spawn_redis()
    use_redis(server.url)
    configure_health(TIMEOUT=1.0, PROBE_SOCKET_TIMEOUT=0.3)
    assert operator.get("/health/redis").status_code == 200
    admin = redis.Redis(port=server.port)
    admin.client_pause(4000)  # every client's commands wait 4 s: a hung server that still accepts
    try:
        response, elapsed = _timed_get(operator, "/health")
        assert response.status_code == 503
        assert elapsed < 1.0 + 0.5
        assert response.json()["components"]["redis"]["status"] == "unhealthy"
        readiness, elapsed = _timed_get(anon, "/health/readiness")
        assert readiness.status_code == 503 and elapsed < 1.5
        assert anon.get("/health/liveness").status_code == 200
    finally:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and operator.get("/health/redis").status_code != 200:
            time.sleep(0.2)
    assert operator.get("/health").status_code == 200


class SleepyCheck(HealthCheck):
    """A project check that ignores every timeout: only the runner's deadline can stop it."""

    name = "sleepy"

    def run(self):
        time.sleep(5)
        return {}


class FineCheck(HealthCheck):
    name = "fine"

    def run(self):
        return {"status": "degraded", "answer": 42}


def test_runner_deadline_bounds_a_check_that_never_returns(operator, configure_health):
    configure_health(TIMEOUT=0.3, CHECKS=[f"{__name__}.SleepyCheck", f"{__name__}.FineCheck"])
    response, elapsed = _timed_get(operator, "/health")
    body = response.json()
    assert elapsed < 1.0
    assert response.status_code == 503
    assert body["components"]["sleepy"]["status"] == "unhealthy"
    assert body["components"]["sleepy"]["error"] == "TimeoutError: no answer within 0.3s"
    assert body["components"]["fine"] == {"status": "degraded", "answer": 42,
                                          "duration_ms": body["components"]["fine"]["duration_ms"]}
    assert operator.get("/health/fine").status_code == 200  # degraded still serves
    assert operator.get("/health/redis").status_code == 404  # replaced, so not configured
