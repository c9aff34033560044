"""manage.py sessions / clearsessions, system checks, and the whole registry on a Redis Cluster."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from sessions_app import checks, services
from sessions_app.backends.redis import SessionStore


@pytest.fixture
def carol(db):
    return get_user_model().objects.create_user("carol", password="pw-carol-123")


def run(*args) -> str:
    out = StringIO()
    call_command("sessions", *args, stdout=out)
    return out.getvalue()


def test_sessions_list_and_revoke(carol, revoked):
    assert "no live device sessions" in run("list", "--user", "carol")
    first = services.create_session(carol.pk, kind="jwt", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    second = services.create_session(carol.pk, kind="jwt")
    listing = run("list", "--user", str(carol.pk))
    assert first.id in listing and second.id in listing and "Firefox" in listing
    assert "Revoked session" in run("revoke", "--user", "carol", "--session", first.id)
    assert [item["session_id"] for item in revoked] == [first.id]
    with pytest.raises(CommandError, match="no live session"):
        run("revoke", "--user", "carol", "--session", first.id)
    assert "Revoked 1 session(s)" in run("revoke", "--user", "carol", "--all")
    assert services.list_sessions(carol.pk) == []


def test_sessions_command_errors(carol):
    with pytest.raises(CommandError, match="No user"):
        run("list", "--user", "nobody")
    with pytest.raises(CommandError):
        run("revoke", "--user", "carol")  # neither --session nor --all


def test_system_checks():
    assert checks.check_sessions_settings() == []
    assert checks.check_session_engine() == []
    with override_settings(WINKR_SESSIONS={"ONLINE_WINDOW": 0, "TYPO": 1, "MAX_SESSIONS_PER_USER": "ten"}):
        ids = [error.id for error in checks.check_sessions_settings()]
        assert ids.count("winkr_sessions.E001") == 1 and ids.count("winkr_sessions.E002") == 2
    with override_settings(MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"]):
        assert [w.id for w in checks.check_session_engine()] == ["winkr_sessions.W001"]


@pytest.mark.cluster
def test_store_and_registry_on_a_cluster(redis_cluster, use_redis, revoked):
    redis_cluster.flush()
    use_redis(f"redis://{redis_cluster.seeds[0]}/0", MODE="cluster", CLUSTER_NODES=redis_cluster.seeds)
    store = SessionStore()
    store[SESSION_KEY] = "77"
    store.save()
    assert store.session_key.startswith("77.")
    record = services.create_session(77, kind="cookie", session_id=store.session_key)
    jwt = services.create_session(77, kind="jwt")
    store["x"] = 1
    store.save()
    store.cycle_key()
    assert SessionStore(store.session_key)["x"] == 1
    assert {r.id for r in services.list_sessions(77)} == {store.session_key, jwt.id}
    assert services.update_session_activity(jwt.id, force=True)
    services.mark_connection_alive(77, "ws", ttl=30)
    assert services.is_user_online(77) and services.get_online_users() == ["77"]
    assert services.count_active_sessions() == 2
    assert services.clear_expired() == 0
    assert services.delete_session(jwt.id)
    assert services.delete_all_sessions(77) == 1
    assert services.get_session(record.id) is None
    anonymous = SessionStore()
    anonymous["a"] = 1
    anonymous.save()
    assert SessionStore(anonymous.session_key)["a"] == 1
    assert len(revoked) == 2
