"""caching_app.async_views.AsyncAPIView: DRF's answers, with the checks and the handler on the event loop.

Every request goes through Django's async handler (AsyncClient), against the suite's redis-server. Where
each piece ran is recorded by the test views (tests/jwt/async_urls.py) and compared with the loop's thread.
"""

from __future__ import annotations

import threading

import pytest
from django.test import AsyncClient, override_settings

from sessions_app.jwt.blacklist import blacklist

from .async_urls import RAN_IN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.jwt.async_urls")]


@pytest.fixture(autouse=True)
def _forget_threads():
    RAN_IN.clear()


async def get(path, token=None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await AsyncClient().get(path, headers=headers)


async def test_project_checks_handler_and_json_rendering_run_on_the_loop(user, mint):
    _, access = mint(user)
    response = await get("/a/project/", access, Accept="application/json")
    assert response.status_code == 200 and response.json() == {"id": user.pk}
    assert RAN_IN["handler"] == threading.get_ident()
    assert response.render is None  # rendered here, not in Django's thread
    assert response["RateLimit-Policy"]  # the user throttle ran (prefetched in the revocation round trip)


async def test_without_a_token_the_answer_is_drfs_401(user):
    response = await get("/a/project/")
    assert response.status_code == 401
    assert response.json()["detail"] and response["WWW-Authenticate"] == 'Bearer realm="api"'


async def test_a_revoked_token_is_refused_on_the_loop(user, mint):
    _, access = mint(user)
    assert (await get("/a/project/", access)).status_code == 200
    blacklist.revoke_user(user.pk)
    response = await get("/a/project/", access)
    assert response.status_code == 401 and response.json()["code"] == "user_revoked"


async def test_the_throttle_refuses_with_drfs_429(user, mint):
    _, access = mint(user)
    with override_settings(WINKR_RATELIMIT={"RATES": {"anon": "100/min", "user": "2/min"}}):
        statuses = [(await get("/a/project/", access)).status_code for _ in range(3)]
        refused = await get("/a/project/", access)
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "throttled" and refused.json()["violated-policies"] == ["user"]


async def test_other_renderers_keep_djangos_deferred_rendering(user, mint):
    _, access = mint(user)
    response = await get("/a/project/", access, Accept="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert callable(response.render)  # the browsable API renders templates: left to Django's thread


async def test_options_and_a_method_without_a_handler(user, mint):
    _, access = mint(user)
    options = await AsyncClient().options("/a/project/", headers={"Authorization": f"Bearer {access}"})
    assert options.status_code == 200 and options.json()["name"] == "Project Checks"
    deleted = await AsyncClient().delete("/a/project/", headers={"Authorization": f"Bearer {access}"})
    assert deleted.status_code == 405 and deleted.json()["detail"]


async def test_a_handler_reads_the_parsed_body(user, mint):
    _, access = mint(user)
    response = await AsyncClient().post("/a/project/", {"a": 1}, content_type="application/json",
                                        headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 201 and response.json() == {"posted": {"a": 1}}


async def test_checks_without_an_async_twin_run_in_a_thread(user, other_user):
    loop_thread = threading.get_ident()
    allowed = await get("/a/sync-checks/", **{"X-User": other_user.username})
    assert allowed.status_code == 200 and allowed.json() == {"user": "bob"}
    assert {RAN_IN[name] != loop_thread for name in ("sync_authenticator", "permission", "custom_throttle")} == {True}
    assert allowed["RateLimit-Policy"]
    refused = await get("/a/sync-checks/", **{"X-User": user.username})
    assert refused.status_code == 403 and refused.json()["detail"] == "Only bob."
    anonymous = await get("/a/sync-checks/")
    assert anonymous.status_code == 403  # no authenticate_header: DRF answers 403, not 401


@pytest.mark.parametrize("path", ["/api/auth/me/", "/api/ratelimit/status/"])
async def test_the_projects_async_endpoints_answer_as_through_the_sync_handler(user, mint, path):
    """The same view through Django's async handler (checks on the loop) and its sync one (checks in the
    request's thread, the view in a one-off loop) gives the same answer."""
    from asgiref.sync import sync_to_async
    from rest_framework.test import APIClient

    from sessions_app import services

    record = await services.acreate_session(user.pk, kind="jwt")
    _, access = mint(user, record.id)
    through_loop = await get(path, access)
    through_sync = await sync_to_async(APIClient().get)(path, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert through_loop.status_code == through_sync.status_code == 200
    assert through_loop.json() == through_sync.json()
    assert through_loop.render is None  # rendered on the loop: the async view ran


def test_under_the_sync_handler_each_requests_loop_closes_its_redis_clients(user, mint, raw_redis):
    """Django's sync handler gives an async view a one-off event loop: its Redis connections end with it."""
    import gc

    from rest_framework.test import APIClient

    _, access = mint(user)
    client = APIClient()
    assert client.get("/api/ratelimit/status/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    before = raw_redis.info("clients")["connected_clients"]
    gc.disable()  # nothing may be left for the collector to close
    try:
        for _ in range(20):  # each one reads the limits with the async client of its own loop
            assert client.get("/api/ratelimit/status/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
        assert raw_redis.info("clients")["connected_clients"] <= before + 1
    finally:
        gc.enable()


async def test_bad_input_to_the_async_views_is_a_4xx_on_the_loop_too(user, mint):
    """The ASGI path of the converted views refuses what the sync handler's tests refuse (tests/security)."""
    _, access = mint(user)
    auth = {"Authorization": f"Bearer {access}"}
    surrogate = await AsyncClient().patch("/api/profiles/me/", '{"bio": "\\udc00"}'.encode("utf-8", "surrogatepass"),
                                          content_type="application/json", headers=auth)
    assert surrogate.status_code == 400 and "surrogate" in surrogate.json()["detail"]
    oversized_id = await get("/api/profiles/" + "9" * 40 + "/", access)
    assert 400 <= oversized_id.status_code < 500 and oversized_id["Content-Type"] == "application/json"
    too_long_token = await get("/api/profiles/me/", "a." + "b" * 20_000 + ".c")
    assert too_long_token.status_code == 401 and too_long_token.json()["code"] == "token_not_valid"
    # Header bytes are latin-1 on the wire (a lone surrogate cannot be sent there): bytes no JWT has.
    for path in ("/api/sessions/", "/api/profiles/me/"):  # /api/sessions/ is an async view too now
        refused = await get(path, "a." + "\xff\xfe" * 10 + ".c")
        assert refused.status_code == 401 and refused["Content-Type"] == "application/json"
