"""Two real daphne processes on one Redis: a logout on one is enforced by the other on the next request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def call(server, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_logout_on_one_process_is_enforced_by_another_at_once(daphne_factory):
    a, b = daphne_factory(), daphne_factory()
    assert call(a, "POST", "/api/auth/register/", {"username": "zoe", "password": "quite-Long-pass-42"})[0] == 201
    status, pair = call(a, "POST", "/api/auth/token/", {"username": "zoe", "password": "quite-Long-pass-42"})
    assert status == 200
    _, other = call(b, "POST", "/api/auth/token/", {"username": "zoe", "password": "quite-Long-pass-42"})
    for server in (a, b):
        status, body = call(server, "GET", "/api/auth/me/", token=pair["access"])
        assert status == 200 and body["username"] == "zoe" and body["session_id"] == pair["session_id"]

    assert call(a, "POST", "/api/auth/logout/", token=pair["access"])[0] == 204
    status, body = call(b, "GET", "/api/auth/me/", token=pair["access"])
    assert status == 401 and body["code"] == "session_revoked"
    assert call(b, "POST", "/api/auth/token/refresh/", {"refresh": pair["refresh"]})[0] == 401
    assert call(a, "GET", "/api/auth/me/", token=other["access"])[0] == 200

    assert call(b, "POST", "/api/auth/logout-all/", token=other["access"])[0] == 200
    status, body = call(a, "GET", "/api/auth/me/", token=other["access"])
    assert status == 401 and body["code"] in ("user_revoked", "session_revoked")
    for bad in ("garbage", "a.b.c", "x" * 6000):
        status, body = call(a, "GET", "/api/auth/me/", token=bad)
        assert status == 401 and body["detail"]
