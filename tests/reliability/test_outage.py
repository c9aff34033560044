"""Redis killed under a mixed load, and a Redis that stops answering, seen through a real daphne process.

What a client may see while Redis is gone: a 503 with a JSON body carrying a ``code`` (or what a throttle
scope's fail-open/closed policy says), never a 500, never a hung request; and once Redis is back on the
same port every endpoint works again without restarting daphne.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis
from rest_framework.test import APIClient

from .traffic import MixedLoad, call, register_and_login

USERS = 4


def describe(load: MixedLoad) -> str:
    lines = []
    for phase, counts in load.tally().items():
        codes = Counter((o.name, o.status, o.code) for o in load.in_phase(phase) if o.status >= 300)
        lines.append(f"{phase}: {dict(sorted(counts.items()))} refusals={dict(codes)}")
    return "\n".join(lines)


@pytest.mark.slow
def test_redis_killed_under_mixed_load_then_back_on_same_port(spawn_redis, daphne_on):
    server = spawn_redis()
    daphne = daphne_on(server.url)
    users = [register_and_login(daphne.url) for _ in range(USERS)]
    load = MixedLoad(daphne.url, users).start()
    try:
        load.wait_for("before", 150)
        load.phase = "killing"  # requests begun before the kill may end either way
        time.sleep(0.2)
        server.kill()
        load.phase = "down"
        load.wait_for("down", 150)
        time.sleep(1.0)  # a full second of outage, whatever the request rate
        load.phase = "restarting"  # requests begun before the restart may end either way
        time.sleep(0.5)  # longer than a refused request takes (two attempts and a backoff)
        restarted_at = time.monotonic()
        server.start()  # same port, empty: nothing was persisted
        load.phase = "recovering"
        first_ok = None
        while first_ok is None and time.monotonic() - restarted_at < 15:
            if any(200 <= o.status < 300 and o.name != "login" for o in load.in_phase("recovering")):
                first_ok = time.monotonic() - restarted_at
            time.sleep(0.02)
        assert first_ok is not None, "no authenticated request succeeded within 15 s of Redis coming back\n" + \
            describe(load)
        time.sleep(1.0)
        load.phase = "after"
        load.wait_for("after", 150)
    finally:
        load.stop()

    report = describe(load)
    print(f"\n{report}\nfirst success {first_ok:.2f}s after restart")
    everything = load.outcomes
    assert not [o for o in everything if o.status == 0], "daphne dropped connections\n" + report
    unexpected = [o for o in everything if not (200 <= o.status < 300 or o.status == 503)]
    assert not unexpected, f"statuses other than 2xx/503: {unexpected[:5]}\n{report}"
    not_json = [o for o in everything if o.status == 503 and not (o.is_json and o.code)]
    assert not not_json, f"503 without a JSON body with a code: {not_json[:5]}\n{report}"
    for phase in ("before", "after"):
        failed = [o for o in load.in_phase(phase) if not 200 <= o.status < 300]
        assert not failed, f"{len(failed)} failures in phase {phase!r}\n{report}"
    down = load.in_phase("down")
    assert down and all(o.status == 503 for o in down), f"{[o for o in down if o.status != 503]}\n{report}"
    # Every endpoint of the mix was tried during the outage and after it.
    names = {o.name for o in load.in_phase("before")}
    assert {o.name for o in down} == names == {o.name for o in load.in_phase("after")}


@pytest.mark.slow
def test_throttles_follow_their_fail_open_and_closed_policy_when_redis_is_gone(spawn_redis, daphne_on):
    """With JWT checks failing open, the user throttle fails open and login stays fail-closed."""
    server = spawn_redis()
    daphne = daphne_on(server.url, JWT_FAIL_OPEN="true")
    user = register_and_login(daphne.url)
    server.kill()

    status = call(daphne.url, "GET", "/api/ratelimit/status/", token=user.access)
    me = call(daphne.url, "GET", "/api/auth/me/", token=user.access)
    login = call(daphne.url, "POST", "/api/auth/token/", body={"username": user.username, "password": "x" * 12})
    print(f"\nstatus {status.status} {status.body}\nme {me.status} {me.body}\nlogin {login.status} {login.body}")
    assert me.status == 200 and me.body["username"] == user.username  # fail-open: signature and expiry only
    assert login.status == 503 and login.is_json and login.body.get("code")  # "login" is a fail-closed scope
    assert status.status in (200, 503) and status.is_json, (status.status, status.body)


@pytest.mark.slow
def test_paused_redis_fails_requests_at_the_configured_timeout(spawn_redis, daphne_on):
    server = spawn_redis()
    daphne = daphne_on(server.url, REDIS_READ_TIMEOUT="500ms", REDIS_MAX_RETRIES="1")
    user = register_and_login(daphne.url)
    paths = ["/api/sessions/", "/api/profiles/me/", "/api/auth/me/", "/api/ratelimit/status/"]
    for path in paths:
        assert call(daphne.url, "GET", path, token=user.access).status == 200

    admin = redis.Redis(port=server.port)
    replies = {}
    # One at a time, each under its own 2 s pause: daphne runs sync views on one thread, so concurrent
    # requests would queue behind each other and measure the queue, not the timeout. (A paused server
    # also refuses CLIENT UNPAUSE, so each pause is left to run out.)
    for path in paths:
        paused_until = time.monotonic() + 2.0
        admin.client_pause(2000, all=True)
        replies[path] = call(daphne.url, "GET", path, token=user.access, timeout=20)
        time.sleep(max(0.0, paused_until - time.monotonic()) + 0.05)
    print("\n" + "\n".join(f"{p}: {r.status} {r.body} {r.seconds:.2f}s" for p, r in replies.items()))
    for path, reply in replies.items():
        assert reply.status == 503 and reply.is_json and reply.body.get("code"), (path, reply)
        # Two attempts of 0.5 s plus a backoff, and well before the pause ended: nothing waited it out.
        assert 0.9 < reply.seconds < 1.8, f"{path} answered after {reply.seconds:.2f}s"

    assert call(daphne.url, "GET", "/api/sessions/", token=user.access).status == 200


@pytest.mark.django_db
def test_login_past_a_fail_open_throttle_answers_503_with_a_code(spawn_redis, use_redis, settings, django_user_model):
    """With every throttle failing open, login reaches the device-session write: still a 503 JSON with a code."""
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.5)
    settings.WINKR_RATELIMIT = {**settings.WINKR_RATELIMIT, "FAIL_CLOSED_SCOPES": []}
    django_user_model.objects.create_user(username="carol", password="correct-horse-battery-staple-42")
    server.kill()
    client = APIClient()
    client.raise_request_exception = False
    reply = client.post("/api/auth/token/", {"username": "carol", "password": "correct-horse-battery-staple-42"},
                        format="json")
    assert reply.status_code == 503
    assert reply.json() == {"detail": "The session store is unavailable; try again shortly.",
                            "code": "service_unavailable"}
