"""REST endpoints, cookie logins through django.contrib.auth, activity tracking and Redis outages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from sessions_app import keys, services

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def bob():
    return get_user_model().objects.create_user("bob", password="pw-bob-123")


def logged_in(username: str, password: str, **headers) -> Client:
    client = Client(headers=headers)
    assert client.login(username=username, password=password)
    return client


def test_cookie_login_creates_a_device_session(alice):
    # A real login view (the admin's), so the request's headers reach the device record.
    alice.is_staff = True
    alice.save()
    client = Client(headers={"user-agent": IPHONE, "x-device-id": "alices-phone"}, REMOTE_ADDR="10.1.2.3")
    response = client.post("/admin/login/", {"username": "alice", "password": "pw-alice-123", "next": "/admin/"})
    assert response.status_code == 302
    key = client.cookies["sessionid"].value
    assert key.startswith(f"{alice.pk}.")  # the key carries the user's tag
    [record] = services.list_sessions(alice.pk)
    assert record.id == key and record.kind == "cookie"
    assert record.device["device_id"] == "alices-phone" and record.device["os"] == "iOS 17"
    assert record.ip == "10.1.2.3" and record.user_agent == IPHONE
    assert services.is_user_online(alice.pk)


def test_a_session_key_without_user_tag_still_joins_the_device_index_at_login(alice):
    # Django accepts any 8+ character key, so a project may have set its own: such a session
    # carries no user tag. Logging in re-keys it, so the user's device index holds it like any other.
    from sessions_app.backends.redis import SessionStore

    alice.is_staff = True
    alice.save()
    store = SessionStore()
    store["cart"] = [1, 2]
    store._session_key = "project-chosen-key"
    store.save(must_create=True)
    assert store.user_tag is None
    client = Client()
    client.cookies["sessionid"] = "project-chosen-key"
    response = client.post("/admin/login/", {"username": "alice", "password": "pw-alice-123", "next": "/admin/"})
    assert response.status_code == 302
    key = client.cookies["sessionid"].value
    assert key.startswith(f"{alice.pk}.")
    assert not SessionStore().exists("project-chosen-key")
    assert SessionStore(key)["cart"] == [1, 2]
    [record] = services.list_sessions(alice.pk)
    assert record.id == key and record.kind == "cookie"
    assert services.delete_all_sessions(alice.pk) == 1
    assert client.get("/api/sessions/").status_code in (401, 403)


def test_list_my_sessions_marks_the_current_one(alice, bob):
    phone = logged_in("alice", "pw-alice-123", user_agent=IPHONE)
    logged_in("alice", "pw-alice-123")
    logged_in("bob", "pw-bob-123")
    jwt = services.create_session(alice.pk, kind="jwt")
    response = phone.get("/api/sessions/")
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 3
    assert {item["id"] for item in body} >= {jwt.id, phone.cookies["sessionid"].value}
    current = [item for item in body if item["current"]]
    assert [item["id"] for item in current] == [phone.cookies["sessionid"].value]
    assert set(current[0]) == {"id", "kind", "created_at", "last_activity", "expires_at", "ip", "user_agent",
                               "device", "current", "user_id"}


def test_anonymous_requests_are_refused(alice):
    assert Client().get("/api/sessions/").status_code == 401
    assert Client().get(f"/api/users/{alice.pk}/presence/").status_code == 401


def test_revoke_one_of_my_sessions_logs_that_browser_out(alice, revoked):
    laptop = logged_in("alice", "pw-alice-123")
    phone = logged_in("alice", "pw-alice-123")
    phone_key = phone.cookies["sessionid"].value
    response = laptop.delete(f"/api/sessions/{phone_key}/")
    assert response.status_code == 204
    assert phone.get("/api/sessions/").status_code == 401  # that browser is logged out
    assert laptop.get("/api/sessions/").status_code == 200
    assert [item["reason"] for item in revoked] == ["revoked"]


def test_revoking_someone_elses_or_unknown_session_is_a_404(alice, bob):
    alice_client = logged_in("alice", "pw-alice-123")
    bob_client = logged_in("bob", "pw-bob-123")
    bobs_key = bob_client.cookies["sessionid"].value
    for target in (bobs_key, keys.new_session_id(alice.pk), "garbage", "%7B1%7D"):
        response = alice_client.delete(f"/api/sessions/{target}/")
        assert response.status_code == 404
        assert response.json()["detail"]
    assert bob_client.get("/api/sessions/").status_code == 200  # untouched


def test_presence_endpoint(alice, bob):
    client = logged_in("bob", "pw-bob-123")
    response = client.get(f"/api/users/{alice.pk}/presence/")
    assert response.json() == {"online": False, "last_seen": None}
    services.mark_connection_alive(alice.pk, "ws", ttl=30)
    body = client.get(f"/api/users/{alice.pk}/presence/").json()
    assert body["online"] is True and body["last_seen"]
    for missing in ("999999", "not-a-number", "0x1"):
        assert client.get(f"/api/users/{missing}/presence/").status_code == 404


def test_logout_removes_the_device_session(alice, revoked):
    client = logged_in("alice", "pw-alice-123")
    client.logout()
    assert services.list_sessions(alice.pk) == []
    assert [item["reason"] for item in revoked] == ["logout"]


def test_activity_is_written_at_most_once_per_interval(alice, raw_redis):
    client = logged_in("alice", "pw-alice-123")
    key = client.cookies["sessionid"].value
    before = raw_redis.hget(keys.session_key(key), "a")
    client.get("/api/sessions/")
    assert raw_redis.hget(keys.session_key(key), "a") == before  # inside the interval: nothing written
    with override_settings(WINKR_SESSIONS={"ACTIVITY_UPDATE_INTERVAL": 0}):
        client.get("/api/sessions/")
    assert int(raw_redis.hget(keys.session_key(key), "a")) >= int(before)


def test_activity_write_happens_when_due(alice, raw_redis):
    client = logged_in("alice", "pw-alice-123")
    key = keys.session_key(client.cookies["sessionid"].value)
    raw_redis.hset(key, "a", 1000)  # last activity long ago
    client.get("/api/sessions/")
    assert int(raw_redis.hget(key, "a")) > 1000


def test_redis_down_gives_503_json_and_recovery(alice, spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.3, READ_TIMEOUT=0.3, WRITE_TIMEOUT=0.3)
    client = logged_in("alice", "pw-alice-123")
    assert client.get("/api/sessions/").status_code == 200
    server.kill()
    response = client.get("/api/sessions/")
    assert response.status_code == 503
    assert response.json()["code"] == "session_store_unavailable"
    assert Client().get("/admin/login/").status_code in (200, 503)  # an anonymous page never 500s
    server.start()
    # Back without restarting Django (the restarted server lost its data: the user is logged out).
    assert client.get("/api/sessions/").status_code == 401
    assert logged_in("alice", "pw-alice-123").get("/api/sessions/").status_code == 200
