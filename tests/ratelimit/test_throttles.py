"""The DRF throttles end to end through Django's test client against real Redis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from ratelimit_app.metrics import CHECKS, REDIS_ERRORS, REJECTIONS
from tests.ratelimit.conftest import RATES
from tests.ratelimit.urls import LoginView


def test_headers_on_every_response_and_429_body(api):
    first = api.get("/scoped/")
    assert first.status_code == 200
    assert first["RateLimit-Policy"] == '"tests";q=3;w=60'
    assert first["RateLimit"] == '"tests";r=2;t=60'
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"], first["X-RateLimit-Reset"]) == ("3", "2", "60")
    assert api.get("/scoped/")["RateLimit"] == '"tests";r=1;t=60'
    assert api.get("/scoped/")["X-RateLimit-Remaining"] == "0"
    refused = api.get("/scoped/")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == "https://iana.org/assignments/http-problem-types#quota-exceeded"
    assert body["status"] == 429 and body["violated-policies"] == ["tests"] and body["title"]
    assert body["code"] == "throttled" and body["scope"] == "tests" and body["rate"] == "3/min"
    assert "tests" in body["detail"] and "3/min" in body["detail"]
    assert 58 <= body["retry_after"] <= 60
    assert refused["Retry-After"] == str(body["retry_after"])
    assert refused["RateLimit"] == f'"tests";r=0;t={body["retry_after"]}'
    assert refused["X-RateLimit-Remaining"] == "0"
    assert refused["X-RateLimit-Reset"] == str(body["retry_after"])


def test_burst_and_sustained_both_apply_and_binding_one_decides(api):
    first = api.get("/burst/")
    assert first["RateLimit-Policy"] == '"burst-1s";q=2;w=1, "burst-60s";q=4;w=60'
    assert first["RateLimit"] == '"burst-1s";r=1;t=1, "burst-60s";r=3;t=60'
    assert first["X-RateLimit-Limit"] == "2"  # 1 of 2 left binds tighter than 3 of 4
    assert api.get("/burst/").status_code == 200
    refused = api.get("/burst/")
    assert refused.status_code == 429 and refused.json()["rate"] == "2/s"
    assert refused["Retry-After"] == "1"
    time.sleep(1.05)
    assert api.get("/burst/").status_code == 200
    assert api.get("/burst/").status_code == 200
    refused = api.get("/burst/")
    assert refused.status_code == 429 and refused.json()["rate"] == "4/min"
    assert refused.json()["violated-policies"] == ["burst-1s", "burst-60s"]
    assert int(refused["Retry-After"]) >= 58
    assert refused["X-RateLimit-Limit"] == "4"


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(api):
    statuses = [api.get("/scoped/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_spoofed_forwarded_for_cannot_dodge_through_a_trusted_proxy(rl_settings):
    rl_settings(TRUSTED_PROXIES=1)
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")
    statuses = [
        proxy.get("/scoped/", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9").status_code for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429], "the client's own X-Forwarded-For entries were ignored"
    other_client = proxy.get("/scoped/", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.10")
    assert other_client.status_code == 200, "a different client behind the proxy has its own limit"
    no_header = proxy.get("/scoped/")
    assert no_header.status_code == 200, "no forwarded hop: counted under REMOTE_ADDR, not the blocked client"


def _login(client, password, username="alice"):
    return client.post("/login/", {"username": username, "password": password}, format="json")


def test_login_counts_failures_not_successes(api):
    LoginView.checked.clear()
    for _ in range(5):
        assert _login(api, "right").status_code == 200
    success = _login(api, "right")
    # A successful login gives its slot back: nothing counted, so the effective window is the whole window.
    assert success["RateLimit"] == '"login";r=3;t=60' and success["X-RateLimit-Reset"] == "0"
    assert [_login(api, "wrong").status_code for _ in range(3)] == [401, 401, 401]
    locked = _login(api, "right")
    assert locked.status_code == 429 and locked.json()["scope"] == "login"
    assert LoginView.checked.count("wrong") == 3, "the locked attempt never reached the password check"
    assert _login(api, "right", username="bob").status_code == 200, "another username is not locked"
    assert _login(APIClient(REMOTE_ADDR="198.51.100.8"), "right").status_code == 200, "nor another IP"
    assert _login(api, "right", username="ALICE ").status_code == 429, "usernames are case-folded"


def test_parallel_login_guesses_cannot_slip_past_the_limit(rl_settings):
    LoginView.checked.clear()

    def guess(n):
        return _login(APIClient(REMOTE_ADDR="198.51.100.9"), f"guess-{n}").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(guess, range(24)))
    assert statuses.count(401) == 3 and statuses.count(429) == 21
    assert len(LoginView.checked) == 3


def test_default_throttles_and_status_endpoint(rl_settings):
    client = APIClient(REMOTE_ADDR="198.51.100.20")
    for _ in range(2):
        response = client.get("/default/")
        assert response.status_code == 200
    assert response["RateLimit-Policy"] == '"anon";q=5;w=60'
    for _ in range(3):
        status = client.get("/api/ratelimit/status/")
    assert status.status_code == 200
    assert status.json() == {
        "ip": "198.51.100.20", "user": None,
        "limits": [{"scope": "anon", "policy": "anon", "limit": 5, "window": 60, "remaining": 3, "reset_after": 60}],
    }, "asking for the status did not use up quota"


def test_status_for_an_authenticated_user(rl_settings, django_user_model):
    user = django_user_model.objects.create_user("carol", password="pw-123456")
    client = APIClient(REMOTE_ADDR="198.51.100.21")
    client.force_authenticate(user)
    client.get("/default/")
    limits = client.get("/api/ratelimit/status/").json()
    assert limits["user"] == str(user.pk)
    assert [(limit["scope"], limit["remaining"]) for limit in limits["limits"]] == [("user", 9)]


def test_metrics_count_checks_and_rejections(api):
    checks, rejections = CHECKS.labels("tests")._value.get(), REJECTIONS.labels("tests")._value.get()
    for _ in range(5):
        api.get("/scoped/")
    assert CHECKS.labels("tests")._value.get() == checks + 5
    assert REJECTIONS.labels("tests")._value.get() == rejections + 2


def test_unknown_scope_is_a_clear_configuration_error(rl_settings):
    from django.core.exceptions import ImproperlyConfigured

    from ratelimit_app.throttling import rates_for_scope

    with pytest.raises(ImproperlyConfigured, match="nope"):
        rates_for_scope("nope")
    rl_settings(RATES={"tests": "3/fortnight"})
    with pytest.raises(ImproperlyConfigured, match="fortnight"):
        rates_for_scope("tests")


def test_management_command_status_and_reset(api, capsys):
    for _ in range(3):
        api.get("/scoped/")
    call_command("ratelimit", "status", "tests", "198.51.100.7")
    assert "0/3 left per 60s" in capsys.readouterr().out
    call_command("ratelimit", "reset", "tests", "198.51.100.7")
    assert "1 counter(s) removed" in capsys.readouterr().out
    assert api.get("/scoped/").status_code == 200


def test_management_command_unlocks_a_login(api, capsys):
    for _ in range(3):
        _login(api, "wrong")
    assert _login(api, "right").status_code == 429
    call_command("ratelimit", "reset", "login", "198.51.100.7 alice")
    assert _login(api, "right").status_code == 200


def test_management_command_resets_ipv6_and_login_keys_as_the_throttles_count_them(rl_settings, capsys):
    ipv6 = APIClient(REMOTE_ADDR="2001:db8::7")
    for _ in range(3):
        ipv6.get("/scoped/")
    assert ipv6.get("/scoped/").status_code == 429
    call_command("ratelimit", "reset", "tests", "2001:db8::7")  # counted under its /64 network
    assert "1 counter(s) removed" in capsys.readouterr().out
    assert ipv6.get("/scoped/").status_code == 200

    mapped = APIClient(REMOTE_ADDR="::ffff:198.51.100.8")
    for _ in range(3):
        _login(mapped, "wrong", username="Alice")
    assert _login(mapped, "right", username="Alice").status_code == 429
    call_command("ratelimit", "reset", "login", "::ffff:198.51.100.8 ALICE")
    assert "counter(s) removed" in capsys.readouterr().out
    assert _login(mapped, "right", username="Alice").status_code == 200


def test_management_command_errors_are_sentences():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No rate set for throttle scope 'nope'"):
        call_command("ratelimit", "status", "nope", "1.2.3.4")


@pytest.mark.slow
def test_fail_open_by_default_and_closed_for_login_then_recover(rl_settings, spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=1)
    client = APIClient(REMOTE_ADDR="198.51.100.30")
    assert client.get("/scoped/").status_code == 200
    server.kill()
    opened = REDIS_ERRORS.labels("tests", "open")._value.get()
    response = client.get("/scoped/")
    assert response.status_code == 200, "fail open: allowed"
    assert "RateLimit" not in response
    assert REDIS_ERRORS.labels("tests", "open")._value.get() == opened + 1
    refused = _login(client, "right")
    assert refused.status_code == 503
    assert refused.json()["code"] == "ratelimit_unavailable" and refused.json()["scope"] == "login"
    server.start()
    recovered = client.get("/scoped/")
    assert recovered.status_code == 200
    assert recovered["RateLimit"] == '"tests";r=2;t=60', "the restarted (empty) server counts afresh"
    assert _login(client, "right").status_code == 200


@pytest.mark.slow
def test_fail_closed_everywhere_when_configured(rl_settings, spawn_redis, use_redis):
    rl_settings(FAIL_OPEN=False)
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=1)
    server.kill()
    response = APIClient(REMOTE_ADDR="198.51.100.31").get("/scoped/")
    assert response.status_code == 503 and response.json()["scope"] == "tests"


@pytest.mark.parametrize("used_before", [0, 8])
def test_remaining_is_what_actually_passes_with_two_limits_of_different_sizes(rl_settings, used_before):
    """The issue's case: 4 of 5 left on one limit and 12 of 20 on another; exactly 4 more pass.

    ``used_before`` spends the larger limit first (through a view only it guards), so it has the
    smaller fraction left but more requests: the header must follow the count, not the fraction.
    """
    rl_settings(RATES={**RATES, "anon": ["20/min"], "tests": ["5/min"]})
    api = APIClient(REMOTE_ADDR="198.51.100.9")
    for _ in range(used_before):
        assert api.get("/default/").status_code == 200  # anon only
    first = api.get("/both/")  # anon (20/min) and scope "tests" (5/min)
    assert first.status_code == 200
    remaining = int(first["X-RateLimit-Remaining"])
    assert remaining == 4 and first["X-RateLimit-Limit"] == "5"
    available = {item.split(";")[0]: int(item.split(";r=")[1].split(";")[0]) for item in first["RateLimit"].split(", ")}
    assert available == {'"anon"': 20 - used_before - 1, '"tests"': 4}
    passed = 0
    while api.get("/both/").status_code == 200:
        passed += 1
        assert passed <= 20, "the limit never tripped"
    assert passed == remaining == min(available.values())
