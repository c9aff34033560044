"""The DRF authentication class and the middleware: revoked, invalid and hostile tokens get 401 JSON."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken

from sessions_app.jwt.blacklist import TokenBlacklist, user_row_key
from sessions_app.jwt.tokens import SessionAccessToken

from .conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.jwt.urls")]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_401_json(response, code=None):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["detail"]
    if code:
        assert body["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/whoami/", "/plain/"])
def test_valid_token_passes_and_revoked_token_is_refused_on_the_next_request(api, user, mint, path):
    _, access = mint(user)
    assert api.get(path, **bearer(access)).status_code == 200
    TokenBlacklist().revoke_session(user.pk, access["sid"])
    assert_401_json(api.get(path, **bearer(access)), "session_revoked")


def test_drf_view_sees_the_real_user(api, user, mint):
    _, access = mint(user)
    body = api.get("/whoami/", **bearer(access)).json()
    assert body == {"id": user.pk, "username": "alice"}


def test_one_redis_round_trip_per_request_with_middleware_and_drf(api, user, mint, raw_redis):
    _, access = mint(user)
    api.get("/whoami/", **bearer(access))  # warm the user row
    before = raw_redis.info("stats")["total_commands_processed"]
    assert api.get("/whoami/", **bearer(access)).status_code == 200
    after = raw_redis.info("stats")["total_commands_processed"]
    assert after - before == 2  # one MGET + this INFO


def test_user_row_cache_hit_needs_no_sql(api, user, mint, django_assert_num_queries, raw_redis):
    _, access = mint(user)
    api.get("/whoami/", **bearer(access))
    assert raw_redis.exists(user_row_key(user.pk))
    assert b"password" not in raw_redis.get(user_row_key(user.pk))
    assert user.password.encode() not in raw_redis.get(user_row_key(user.pk))
    with django_assert_num_queries(0):
        assert api.get("/whoami/", **bearer(access)).json()["username"] == "alice"


def test_deactivated_or_deleted_user_is_refused_at_once(api, user, mint):
    _, access = mint(user)
    assert api.get("/whoami/", **bearer(access)).status_code == 200  # row now cached
    user.is_active = False
    user.save()  # deactivation logs the user out everywhere (sessions_app.revocation): the cut-off answers
    assert_401_json(api.get("/whoami/", **bearer(access)), "user_revoked")
    _, fresh = mint(user)  # a token minted after the cut-off still meets the is_active check
    assert_401_json(api.get("/whoami/", **bearer(fresh)), "user_inactive")
    user.delete()
    assert_401_json(api.get("/whoami/", **bearer(fresh)), "user_revoked")


def test_individual_token_revocation(api, user, mint):
    _, access = mint(user)
    _, other = mint(user, "sid-2")
    TokenBlacklist().add_token(access)
    assert_401_json(api.get("/whoami/", **bearer(access)), "token_revoked")
    assert api.get("/whoami/", **bearer(other)).status_code == 200


def test_user_cutoff(api, user, mint):
    _, access = mint(user)
    TokenBlacklist().revoke_user(user.pk)
    assert_401_json(api.get("/plain/", **bearer(access)), "user_revoked")


def _expired(user):
    token = SessionAccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-60))
    return str(token)


def _wrong_signature(user):
    token = AccessToken.for_user(user)
    from rest_framework_simplejwt.backends import TokenBackend

    return TokenBackend("HS256", "another-key-entirely-0123456789abcdef").encode(token.payload)


def _alg_none(user):
    token = AccessToken.for_user(user)
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(token.payload)}."


def _signed(payload_changes):
    def make(user):
        token = AccessToken.for_user(user)
        for claim, value in payload_changes.items():
            token[claim] = value
        return str(token)

    return make


HOSTILE = {
    "expired": _expired,
    "garbage": lambda user: "not-a-jwt",
    "three_garbage_parts": lambda user: "a.b.c",
    "bad_base64": lambda user: "@@@.###.$$$",
    "wrong_signature": _wrong_signature,
    "alg_none": _alg_none,
    "oversized": lambda user: "a" * 100_000 + ".b.c",
    "oversized_opaque": lambda user: "a" * 100_000,
    "refresh_as_access": lambda user: str(__import__("sessions_app.jwt.tokens", fromlist=["x"])
                                         .SessionRefreshToken.for_session(user, "s")),
    "user_id_dict": _signed({"user_id": {"$gt": ""}}),
    "user_id_not_a_number": _signed({"user_id": "12abc"}),
    "unknown_user": _signed({"user_id": "987654"}),
    "jti_list": _signed({"jti": ["x"]}),
    "iat_string": _signed({"iat": "yesterday"}),
    "sid_huge": _signed({"sid": "s" * 5000}),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("path", ["/whoami/", "/plain/"])
def test_hostile_tokens_get_401_json_never_500(api, user, kind, path):
    token = HOSTILE[kind](user)
    response = api.get(path, **bearer(token))
    if path == "/plain/" and token.count(".") != 2:
        # not JWT-shaped: an opaque bearer token (health token, API key) is the view's business
        assert response.status_code == 200
    else:
        assert_401_json(response)


def test_public_drf_view_ignores_a_stale_header(api, user):
    assert api.get("/public/", **bearer(_expired(user))).status_code == 200


def test_no_header_is_anonymous_not_401_for_plain_views(api):
    assert api.get("/plain/").status_code == 200
    assert api.get("/whoami/").status_code in (401, 403)


def test_redis_down_fails_closed_with_503_json(api, user, mint, spawn_redis, use_redis):
    _, access = mint(user)
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.5, READ_TIMEOUT=0.5, WRITE_TIMEOUT=0.5)
    assert api.get("/whoami/", **bearer(access)).status_code == 200
    server.stop()
    for path in ("/whoami/", "/plain/"):
        response = api.get(path, **bearer(access))
        assert response.status_code == 503
        assert response.json()["code"] == "revocation_unavailable"
    server.start()
    assert api.get("/whoami/", **bearer(access)).status_code == 200


def test_redis_down_fail_open_lets_valid_tokens_through(api, user, mint, spawn_redis, use_redis):
    _, access = mint(user)
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.5, READ_TIMEOUT=0.5, WRITE_TIMEOUT=0.5)
    server.stop()
    with override_settings(WINKR_JWT={"FAIL_OPEN": True}):
        assert api.get("/whoami/", **bearer(access)).json()["username"] == "alice"
        assert_401_json(api.get("/whoami/", **bearer(_expired(user))))
