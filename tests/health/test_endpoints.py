"""The endpoints against the real test Redis: shapes, status codes, access."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

COMPONENTS = ("redis", "cache", "sessions", "rate_limit", "pubsub")


def test_all_components_healthy(operator):
    response = operator.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "healthy"
    assert body["timestamp"].endswith("Z")
    assert set(body["components"]) == set(COMPONENTS)
    for name, component in body["components"].items():
        assert component["status"] == "healthy", (name, component)
    redis_component = body["components"]["redis"]
    assert redis_component["ping"] == "ok"
    assert set(redis_component["stats"]) == {"state", "cache"}
    state = redis_component["stats"]["state"]
    assert state["redis_version"]
    assert state["maxmemory_policy"] == "noeviction"
    assert state["evicted_keys"] == 0
    assert state["replication"] == {"role": "primary", "replicas": []}
    assert "pools" in redis_component["metrics"]
    assert body["components"]["cache"]["stats"]["set_get_delete_ms"] >= 0
    assert body["components"]["pubsub"]["stats"]["receivers"] == 1


@pytest.mark.parametrize("name", COMPONENTS)
def test_each_component_endpoint(operator, name):
    response = operator.get(f"/health/{name}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["component"] == name
    assert body["status"] == "healthy"
    assert operator.get(f"/health/{name}/").status_code == 200


def test_probe_keys_are_cleaned_up(operator):
    from caching_app.foundation.connections import get_redis

    assert operator.get("/health").status_code == 200
    assert get_redis("cache").keys("*cache-probe*") == []


def test_unknown_component_is_a_json_404(operator):
    response = operator.get("/health/nonsense")
    assert response.status_code == 404
    assert "nonsense" in response.json()["detail"]


def test_anonymous_overall_health_gets_status_only(anon):
    response = anon.get("/health")
    assert response.status_code == 200
    assert set(response.json()) == {"status", "timestamp"}


@pytest.mark.parametrize("path", ["/health/redis", "/health/metrics", "/health/metrics?format=prometheus"])
def test_anonymous_cannot_read_details_or_metrics(anon, path):
    response = anon.get(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="health"'
    assert "detail" in response.json()
    assert b"winkr_redis" not in response.content


def test_wrong_token_is_rejected(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    assert anon.get("/health/metrics").status_code == 401
    assert "components" not in anon.get("/health").json()


def test_no_token_configured_means_no_token_works(anon, configure_health):
    configure_health(TOKEN=None)
    anon.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert anon.get("/health/metrics").status_code == 401


@pytest.mark.django_db
def test_staff_may_read_details_other_users_may_not(anon):
    user_model = get_user_model()
    member = user_model.objects.create_user("member", password="pw-member-123")
    staff = user_model.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    anon.force_login(member)
    response = anon.get("/health/metrics")
    assert response.status_code == 403
    assert "detail" in response.json()
    assert "components" not in anon.get("/health").json()
    anon.force_login(staff)
    assert anon.get("/health/metrics").status_code == 200
    assert "components" in anon.get("/health").json()


def test_liveness_is_open(anon):
    for path in ("/health/liveness", "/health/liveness/"):
        response = anon.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "healthy"}


@pytest.mark.django_db
def test_readiness_is_open_and_checks_redis_and_database(anon):
    response = anon.get("/health/readiness")
    assert response.status_code == 200, response.json()
    assert response.json()["components"] == {"redis": "healthy", "database": "healthy"}
