"""Oversized headers, bodies, tokens and ids: always a 4xx with a JSON body, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from .conftest import bearer_for

BIG = 100_000


def assert_json_4xx(response, *statuses: int) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body, dict) and body, body
    return body


@pytest.fixture
def client():
    return Client(raise_request_exception=False)  # a 500 is an answer to assert on, not an exception


@pytest.fixture
def alice_auth(people):
    return {"HTTP_AUTHORIZATION": f"Bearer {bearer_for(people['alice'])}"}


@pytest.mark.parametrize("token", ["x" * BIG, "a." * 5000 + "b", "e30." * 3000, "\u00e9" * 9000])
def test_oversized_or_garbage_bearer_tokens_are_401(client, people, token):
    body = assert_json_4xx(client.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {token}"), 401)
    assert "detail" in body


def test_oversized_refresh_token_is_refused(client, people):
    response = client.post("/api/auth/token/refresh/", {"refresh": "x" * BIG}, content_type="application/json")
    assert_json_4xx(response, 400, 401)


@pytest.mark.parametrize("header", ["HTTP_USER_AGENT", "HTTP_X_DEVICE_ID", "HTTP_X_FORWARDED_FOR", "HTTP_COOKIE"])
def test_oversized_headers_on_login_are_not_a_500(client, people, generous_rates, header):
    value = "sessionid=" + "s" * BIG if header == "HTTP_COOKIE" else "h" * BIG
    response = client.post("/api/auth/token/", {"username": "alice", "password": "wrong"},
                           content_type="application/json", **{header: value})
    assert_json_4xx(response, 401)
    ok = client.post("/api/auth/token/", {"username": "alice", "password": "correct-Horse-battery-9"},
                     content_type="application/json", **{header: value})
    assert ok.status_code == 200, ok.content[:300]


@pytest.mark.parametrize("body", [
    json.dumps({"username": "a" * BIG, "password": "p" * BIG}),
    json.dumps({"username": "alice", "password": "x", "device": {"device_id": "d" * BIG}}),
    "[" * 50_000 + "]" * 50_000,  # nesting deeper than the JSON parser's recursion limit
    json.dumps({"username": "alice", "password": "x", "pad": "z" * 3_000_000}),  # > DATA_UPLOAD_MAX_MEMORY_SIZE
    "{\"username\": \"alice\", \"password\": ",
    "\udcff",
])
def test_oversized_or_broken_bodies_are_4xx_json(client, people, generous_rates, body):
    response = client.post("/api/auth/token/", body.encode("utf-8", "surrogatepass"), content_type="application/json")
    assert_json_4xx(response, 400, 401, 413)


@pytest.mark.parametrize("path", [
    "/api/sessions/" + "s" * 10_000 + "/",
    "/api/users/" + "9" * 40 + "/presence/",
    "/api/users/" + "%3A%7B" * 500 + "/presence/",
    "/api/chat/" + "u" * 5000 + "/messages/?before=" + "1" * 5000,
    "/api/profiles/" + "9" * 40 + "/",
    "/api/notifications/?since=" + "9" * 5000 + "&limit=" + "9" * 100,
    "/api/nearby/?radius_km=" + "1" * 400 + "&limit=1e999",
])
def test_oversized_ids_and_query_strings_are_4xx_json(client, alice_auth, generous_rates, path):
    method = client.delete if path.startswith("/api/sessions/") else client.get
    assert_json_4xx(method(path, **alice_auth))


def test_oversized_chat_message_is_refused(client, people, alice_auth, generous_rates):
    response = client.post(f"/api/chat/{people['bob'].pk}/messages/", {"text": "t" * BIG},
                           content_type="application/json", **alice_auth)
    assert_json_4xx(response, 400)


def test_oversized_profile_fields_are_refused(client, alice_auth, generous_rates):
    response = client.patch("/api/profiles/me/", {"display_name": "n" * BIG, "interests": ["i"] * BIG},
                            content_type="application/json", **alice_auth)
    body = assert_json_4xx(response, 400)
    assert "display_name" in body
