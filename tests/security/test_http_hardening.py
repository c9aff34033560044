"""Issue 14, HTTP side: each attack reproduced first, against the real stack and a real Redis.

Memory and load findings are measured on a real daphne process in ``test_http_hardening_daphne.py``.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from caching_app.foundation.connections import get_redis
from caching_app.foundation.inputs import bounded_memo, find_unencodable
from ratelimit_app import limiter

from .conftest import PASSWORD
from .test_oversized_input import assert_json_4xx


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def post_json(client, path, body: str, **extra):
    return client.post(path, body.encode("utf-8", "surrogatepass"), content_type="application/json", **extra)


def patch_json(client, path, body: str, **extra):
    return client.patch(path, body.encode("utf-8", "surrogatepass"), content_type="application/json", **extra)


# --- Finding 2: client text never reaches a key or a memo unbounded -----------------------------------------


def test_an_oversized_username_is_a_400_before_the_login_throttle_counts_it(client, people):
    limiter._redis_keys.cache_clear()
    redis_client = get_redis("state")
    response = client.post("/api/auth/token/", {"username": "u" * 200_000, "password": "x"},
                           content_type="application/json")
    body = assert_json_4xx(response, 400)
    assert "150" in json.dumps(body) and "username" in body
    assert not list(redis_client.scan_iter(match="*rl:login*"))  # the attempt was not counted
    assert limiter._redis_keys.cache_info().currsize <= 1  # only the anon scope's short per-IP key


def test_bounded_memo_keeps_no_long_text():
    calls = []

    @bounded_memo(maxsize=8, max_text=10)
    def build(text: str, parts: tuple) -> str:
        calls.append(text)
        return text[:3]

    assert build("short", ("a",)) == build("short", ("a",)) == "sho"
    assert build("l" * 11, ("a",)) == build("l" * 11, ("a",)) == "lll"
    assert build("short", ("p" * 11,)) == "sho"
    assert calls == ["short", "l" * 11, "l" * 11, "short"]
    assert build.cache_info().currsize == 1


# --- Finding 3 (REST): lone surrogates are a 400 saying so, never a 500 ------------------------------------------


@pytest.mark.parametrize(("path", "body"), [
    ("/api/auth/token/", '{"username": "\\ud800", "password": "x"}'),
    ("/api/auth/register/", '{"username": "\\ud800", "password": "quite-Long-pass-42"}'),
    ("/api/auth/register/", '{"username": "zed", "password": "quite-Long-pass-42", "email": "\\udfff@x.io"}'),
    ("/api/auth/token/", '{"username": "alice", "password": "x", "device": {"os": "\\udfff"}}'),
    ("/api/auth/token/", '{"\\ud800": 1}'),
])
def test_lone_surrogates_are_a_400_naming_the_field(client, people, generous_rates, path, body):
    found = assert_json_4xx(post_json(client, path, body), 400)
    assert "surrogate" in found["detail"], found


def test_lone_surrogates_anywhere_in_an_authenticated_body_are_a_400(client, people, generous_rates):
    from .conftest import bearer_for

    auth = {"HTTP_AUTHORIZATION": f"Bearer {bearer_for(people['alice'])}"}
    response = patch_json(client, "/api/profiles/me/", '{"display_name": "ok", "interests": ["a", "\\udc00"]}', **auth)
    assert "interests[1]" in assert_json_4xx(response, 400)["detail"]


def test_find_unencodable_names_the_path():
    assert find_unencodable({"a": [{"b": "ok"}, {"c": "\ud800"}]}) == "a[1].c"
    assert find_unencodable({"a": ["fine", 1, None, True]}) is None
    assert find_unencodable("\udfff") == "<body>"


# --- Finding 7: one comparison of usernames: NFKC + case fold, and no mixed-script look-alikes ----------------


def register(client, username, password="quite-Long-pass-42"):
    return client.post("/api/auth/register/", {"username": username, "password": password},
                       content_type="application/json")


@pytest.mark.parametrize("twin", ["ＣＡＲＯＬ", "CAROL", "Carol", "ｃａｒｏｌ"])
def test_a_fullwidth_or_cased_twin_of_an_existing_username_is_refused(client, db, generous_rates, twin):
    assert register(client, "carol").status_code == 201
    body = assert_json_4xx(register(client, twin), 409)  # taken: a conflict with stored state (issue 19)
    assert "already exists" in json.dumps(body)
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("name", ["cаrol", "аlice", "pаypal"])  # a Cyrillic "а" among Latin letters
def test_mixed_script_look_alike_usernames_are_refused(client, db, generous_rates, name):
    body = assert_json_4xx(register(client, name), 400)
    assert "look" in json.dumps(body)


@pytest.mark.parametrize("name", ["иван", "josé", "Zoë_42", "小明"])
def test_single_script_names_are_welcome(client, db, generous_rates, name):
    assert register(client, name).status_code == 201, register(client, name).content


@pytest.mark.parametrize("typed", ["ＡＬＩＣＥ", "Alice", "alice"])
def test_login_finds_the_user_by_the_same_comparison(client, people, generous_rates, typed):
    response = client.post("/api/auth/token/", {"username": typed, "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200, response.content


def test_admin_login_finds_the_user_by_the_same_comparison(client, db, generous_rates):
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    response = client.post("/admin/login/?next=/admin/", {"username": "ＲＯＯＴ", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"


# --- Finding 10b: one canonical user id before any key ------------------------------------------------------


@pytest.mark.parametrize("spelling", ["0{pk}", " {pk}", "{pk}.0", "+{pk}"])
def test_a_token_naming_its_user_in_a_non_canonical_form_is_401(client, people, generous_rates, spelling):
    from rest_framework_simplejwt.tokens import AccessToken

    alice = people["alice"]
    token = AccessToken.for_user(alice)
    assert client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    token["user_id"] = spelling.format(pk=alice.pk)
    response = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    body = assert_json_4xx(response, 401)
    assert body["code"] == "token_not_valid", body


def test_canonical_user_id_refuses_other_spellings(db):
    from sessions_app.identity import InvalidUserId, canonical_user_id

    assert canonical_user_id("12") == canonical_user_id(12) == "12"
    for bad in ("012", "1e1", "", "x", True, None, "1" * 300):
        with pytest.raises(InvalidUserId):
            canonical_user_id(bad)


# --- Finding 5: the admin's password forms under the API's failed-login policy ------------------------------


@pytest.fixture
def short_login_window():
    import copy

    from django.conf import settings
    from django.test.utils import override_settings

    rates = copy.deepcopy(settings.WINKR_RATELIMIT)
    rates["RATES"] = {**{scope: ["100000/s"] for scope in rates["RATES"]}, "login": ["5/3s"]}
    with override_settings(WINKR_RATELIMIT=rates):
        yield


def test_admin_login_is_throttled_per_ip_and_username_and_the_right_password_waits(client, db, short_login_window):
    import time

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    answers = [client.post("/admin/login/", {"username": "root", "password": f"wrong-{i}"}).status_code
               for i in range(25)]
    assert answers[:5] == [200] * 5 and answers[5:] == [429] * 20, answers
    refused = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["scope"] == "login"
    # The same username from another IP, or another username from this one, is not blocked.
    other_ip = client.post("/admin/login/", {"username": "root", "password": "x"}, REMOTE_ADDR="10.1.2.3")
    assert other_ip.status_code == 200
    assert client.post("/admin/login/", {"username": "someone", "password": "x"}).status_code == 200
    # Once the window has passed, the right password logs in (refused attempts were not counted).
    deadline = time.monotonic() + 15
    while (answer := client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
           ).status_code == 429:
        assert time.monotonic() < deadline, "the login window never passed"
        time.sleep(0.2)
    assert answer.status_code == 302 and answer["Location"] == "/admin/"


def test_admin_and_api_logins_share_one_counter(client, people, short_login_window):
    for i in range(3):
        client.post("/admin/login/", {"username": "ALICE", "password": f"wrong-{i}"})
    for i in range(2):
        client.post("/api/auth/token/", {"username": "alice", "password": f"x{i}"}, content_type="application/json")
    response = client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 429, response.content


def test_a_right_admin_password_gives_its_slot_back(client, db, short_login_window):
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    for _ in range(8):
        assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
        client.logout()


def test_admin_password_change_is_throttled(client, db, short_login_window):
    staff = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.force_login(staff)
    answers = [client.post("/admin/password_change/", {"old_password": f"wrong-{i}", "new_password1": "N3w-pass-xyz!",
                                                       "new_password2": "N3w-pass-xyz!"}).status_code
               for i in range(7)]
    assert answers == [200] * 5 + [429] * 2, answers


# --- Finding 6: the anonymous health status is one shared computation; bad tokens make probes anonymous -----


def test_single_flight_shares_one_computation_between_sync_and_async_callers():
    import asyncio
    import threading

    from health_app.singleflight import SingleFlight

    release, started, calls = threading.Event(), threading.Event(), []

    def compute():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return {"n": len(calls)}

    flight = SingleFlight(compute, lambda: 60.0)
    results = []
    threads = [threading.Thread(target=lambda: results.append(flight.get())) for _ in range(20)]
    threads[0].start()
    assert started.wait(10)
    for thread in threads[1:]:
        thread.start()

    async def async_callers():
        waiting = asyncio.gather(*(flight.aget() for _ in range(20)))
        await asyncio.sleep(0)
        release.set()
        return await waiting

    results.extend(asyncio.run(async_callers()))
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and results == [{"n": 1}] * 40
    flight.clear()
    assert flight.get() == {"n": 2}


def test_a_failed_computation_is_not_shared_afterwards():
    from health_app.singleflight import SingleFlight

    outcomes = iter([RuntimeError("down"), {"ok": True}])

    def compute():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    flight = SingleFlight(compute, lambda: 60.0)
    with pytest.raises(RuntimeError):
        flight.get()
    assert flight.get() == {"ok": True}


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer " + "x" * 5000])
def test_health_probes_treat_a_bad_token_as_anonymous(client, db, header):
    for path in ("/health", "/health/readiness"):
        response = client.get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 200, (path, response.content)
        assert "components" not in response.json() or path.endswith("readiness")


def test_an_expired_token_of_a_staff_user_is_just_anonymous_on_health(client, db):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    staff = get_user_model().objects.create_superuser("root", password=PASSWORD)
    token = AccessToken.for_user(staff)
    assert "components" in client.get("/health", HTTP_AUTHORIZATION=f"Bearer {token}").json()  # staff: details
    token.set_exp(lifetime=-timedelta(minutes=5))
    response = client.get("/health", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and set(response.json()) == {"status", "timestamp"}
