"""/api/auth/: register, token, refresh rotation with reuse detection, logout, logout-all (real Redis)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from sessions_app import services
from sessions_app.jwt.blacklist import token_key

from .conftest import PASSWORD, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.jwt.urls")]


def login(api, username="alice", password=PASSWORD, **extra):
    response = api.post("/api/auth/token/", {"username": username, "password": password, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(api, token):
    return api.post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def test_register_validates_passwords_and_names(api, user):
    ok = api.post("/api/auth/register/", {"username": "carol", "password": "quite-Long-pass-42"}, format="json")
    assert ok.status_code == 201
    assert set(ok.json()) == {"id", "username"} and ok.json()["username"] == "carol"
    weak = api.post("/api/auth/register/", {"username": "dave", "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()
    taken = api.post("/api/auth/register/", {"username": "ALICE", "password": "quite-Long-pass-42"}, format="json")
    # Taken (ignoring case) is a conflict with existing state, not a malformed request.
    assert taken.status_code == 409 and "username" in taken.json() and taken.json()["code"] == "username_taken"
    bad = api.post("/api/auth/register/", {"username": "a b:c{}", "password": "quite-Long-pass-42"}, format="json")
    assert bad.status_code == 400
    assert api.post("/api/auth/register/", ["not", "a", "dict"], format="json").status_code == 400


def test_token_creates_a_jwt_device_session(api, user):
    pair = login(api, device={"device_id": "phone-1", "device_type": "mobile", "os": "iOS"})
    assert set(pair) == {"access", "refresh", "session_id"}
    session = services.get_session(pair["session_id"])
    assert session.kind == "jwt" and session.user_id == str(user.pk)
    assert session.device.get("device_id") == "phone-1"
    assert api.get("/whoami/", **bearer(pair["access"])).json()["username"] == "alice"


def test_bad_credentials_are_401_json(api, user):
    response = api.post("/api/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "no_active_account"
    assert api.post("/api/auth/token/", {"username": "alice"}, format="json").status_code == 400


def test_failed_logins_are_throttled_and_good_ones_are_not(api, user):
    for _ in range(10):
        login(api)  # successes give their slot back
    codes = [api.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json").status_code
             for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429


def test_refresh_rotates_and_reuse_revokes_the_whole_device_session(api, user):
    pair = login(api)
    first = refresh(api, pair["refresh"])
    assert first.status_code == 200
    new = first.json()
    assert new["refresh"] != pair["refresh"]
    assert api.get("/whoami/", **bearer(new["access"])).status_code == 200
    # the rotated-out token again: refused, and every token of that device session dies
    replay = refresh(api, pair["refresh"])
    assert replay.status_code == 401 and replay.json()["code"] == "token_reused"
    assert api.get("/whoami/", **bearer(new["access"])).status_code == 401
    assert api.get("/whoami/", **bearer(pair["access"])).status_code == 401
    assert refresh(api, new["refresh"]).status_code == 401
    assert services.get_session(pair["session_id"]) is None


def test_other_devices_survive_a_reuse_on_one(api, user):
    phone, laptop = login(api), login(api)
    refresh(api, phone["refresh"])
    refresh(api, phone["refresh"])
    assert api.get("/whoami/", **bearer(laptop["access"])).status_code == 200
    assert refresh(api, laptop["refresh"]).status_code == 200


def test_refresh_with_hostile_input_is_401_or_400_never_500(api, user):
    pair = login(api)
    for value in ("garbage", "a.b.c", "x" * 9000, pair["access"]):
        response = refresh(api, value)
        assert response.status_code in (400, 401), (value[:20], response.content)
        assert response.json()
    assert api.post("/api/auth/token/refresh/", {}, format="json").status_code == 400


def test_logout_kills_this_device_at_once_and_only_it(api, user, raw_redis):
    phone, laptop = login(api), login(api)
    assert api.get("/whoami/", **bearer(phone["access"])).status_code == 200
    assert api.post("/api/auth/logout/", **bearer(phone["access"])).status_code == 204
    response = api.get("/whoami/", **bearer(phone["access"]))
    assert response.status_code == 401 and response.json()["code"] == "session_revoked"
    assert refresh(api, phone["refresh"]).status_code == 401
    assert services.get_session(phone["session_id"]) is None
    assert api.get("/whoami/", **bearer(laptop["access"])).status_code == 200


def test_logout_all_kills_every_device_and_cookie_session(api, user, other_user):
    devices = [login(api) for _ in range(3)]
    bob = login(api, "bob")
    browser = Client()
    assert browser.login(username="alice", password=PASSWORD)
    assert browser.get("/whoami/").status_code == 200
    response = api.post("/api/auth/logout-all/", **bearer(devices[0]["access"]))
    assert response.status_code == 200 and response.json()["sessions_ended"] == 4
    for pair in devices:
        assert api.get("/whoami/", **bearer(pair["access"])).status_code == 401
        assert refresh(api, pair["refresh"]).status_code == 401
    assert browser.get("/whoami/").status_code in (401, 403)
    assert services.list_sessions(user.pk) == []
    assert api.get("/whoami/", **bearer(bob["access"])).status_code == 200
    # and a new login right after works
    again = login(api)
    assert api.get("/whoami/", **bearer(again["access"])).status_code == 200


def test_logout_all_from_a_cookie_session(user):
    browser = APIClient(enforce_csrf_checks=False)
    assert browser.login(username="alice", password=PASSWORD)
    pair = login(APIClient())
    assert browser.post("/api/auth/logout-all/").status_code == 200
    assert APIClient().get("/whoami/", **bearer(pair["access"])).status_code == 401


def test_revocation_through_sessions_app_revokes_the_tokens(api, user):
    pair = login(api)
    assert services.delete_session(pair["session_id"]) is True  # e.g. DELETE /api/sessions/{id}/ or the admin
    assert api.get("/whoami/", **bearer(pair["access"])).status_code == 401
    assert refresh(api, pair["refresh"]).status_code == 401


@override_settings(WINKR_SESSIONS={"MAX_SESSIONS_PER_USER": 2})
def test_evicted_device_session_loses_its_tokens(api, user):
    oldest = login(api)
    login(api)
    login(api)  # evicts the oldest
    assert api.get("/whoami/", **bearer(oldest["access"])).status_code == 401
    assert refresh(api, oldest["refresh"]).status_code == 401


def test_logout_needs_a_jwt(api):
    anonymous = api.post("/api/auth/logout/")  # RFC 6750 3.1: no credentials, no error code
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    response = api.post("/api/auth/logout/", **bearer("a.b.c"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_rotated_out_marker_expires_with_the_refresh_token(api, user, raw_redis):
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import UntypedToken

    pair = login(api)
    refresh(api, pair["refresh"])
    claims = UntypedToken(pair["refresh"]).payload
    ttl = raw_redis.ttl(token_key(user.pk, claims["jti"]))
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()
    assert lifetime - 5 <= ttl <= lifetime + 2


def test_redis_down_login_is_503_json(api, user, spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.5, READ_TIMEOUT=0.5, WRITE_TIMEOUT=0.5)
    server.stop()
    response = api.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 503 and response.json()["detail"]


def test_register_that_loses_the_race_is_a_409_not_a_500(api, user, monkeypatch):
    """Two registrations of one name (any case) at once: the check before the INSERT passes for both;
    the database's unique index (UPPER(username)) refuses the second, which becomes a 409 JSON."""
    from django.contrib.auth import get_user_model

    from sessions_app import usernames

    checks, really_taken = [], usernames.is_taken

    def check_misses_once(username):
        checks.append(username)
        return len(checks) > 1 and really_taken(username)

    monkeypatch.setattr(usernames, "is_taken", check_misses_once)
    lost = api.post("/api/auth/register/", {"username": user.username.upper(), "password": "quite-Long-pass-42"},
                    format="json")
    assert lost.status_code == 409 and lost.json()["code"] == "username_taken"
    assert len(checks) == 2  # the pre-check (missed) and the re-check after the IntegrityError
    assert get_user_model().objects.filter(username__iexact=user.username).count() == 1
