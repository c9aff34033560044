"""Redis with ``appendonly yes`` killed and restarted: what Redis kept, the apps still know.

Checked only through the project's own endpoints, on the same daphne process before and after:
cookie sessions, JWT device sessions, logged-out tokens, log-out-everywhere, a login lockout and chat.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from caching_app.devservers.asgi_servers import ROOT

from .traffic import PASSWORD, call, cookie_login, login, register_and_login


def create_staff_user(daphne, username: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
         "--email", f"{username}@example.com"],
        cwd=ROOT, env={**daphne.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, check=True, capture_output=True,
    )


def snapshot(daphne, alice, alice_phone, bob, bob_old, cookie: str, locked_name: str) -> dict:
    """Everything the restart must not change, as the API reports it."""
    def status_and(reply, key=None):
        return reply.status, (reply.body.get(key) if key and isinstance(reply.body, dict) else None)

    sessions = call(daphne.url, "GET", "/api/sessions/", token=alice.access)
    via_cookie = call(daphne.url, "GET", "/api/sessions/", headers={"Cookie": f"sessionid={cookie}"})
    return {
        "alice sessions": (sessions.status, sorted((s["id"], s["kind"]) for s in sessions.body)),
        "cookie session": (via_cookie.status, sorted((s["id"], s["current"]) for s in via_cookie.body or [])),
        "logged-out access": status_and(call(daphne.url, "GET", "/api/auth/me/", token=alice_phone.access), "code"),
        "logged-out refresh": status_and(call(daphne.url, "POST", "/api/auth/token/refresh/",
                                              body={"refresh": alice_phone.refresh}), "code"),
        "logout-all old access": status_and(call(daphne.url, "GET", "/api/auth/me/", token=bob_old.access), "code"),
        "logout-all new login": status_and(call(daphne.url, "GET", "/api/auth/me/", token=bob.access), "username"),
        "locked-out login": status_and(call(daphne.url, "POST", "/api/auth/token/",
                                            body={"username": locked_name, "password": "wrong-password-1"})),
        "chat": [m["text"] for m in call(daphne.url, "GET", f"/api/chat/{bob.id}/messages/",
                                         token=alice.access).body["messages"]],
    }


@pytest.mark.slow
def test_aof_restart_keeps_sessions_revocations_and_limits(spawn_redis, daphne_on):
    server = spawn_redis("--appendonly", "yes", "--appendfsync", "always")
    daphne = daphne_on(server.url, RATELIMIT_LOGIN="3/15m")
    alice = register_and_login(daphne.url)
    staff_name = f"staff{uuid.uuid4().hex[:8]}"
    create_staff_user(daphne, staff_name)
    cookie = cookie_login(daphne.url, staff_name)

    alice_phone = login(daphne.url, alice.username, alice.id)
    assert call(daphne.url, "POST", "/api/auth/logout/", token=alice_phone.access).status == 204
    bob_old = register_and_login(daphne.url)
    assert call(daphne.url, "POST", "/api/auth/logout-all/", token=bob_old.access).status == 200
    bob = login(daphne.url, bob_old.username, bob_old.id)
    for text in ("one", "two", "three"):
        assert call(daphne.url, "POST", f"/api/chat/{bob.id}/messages/", token=alice.access,
                    body={"text": text}).status == 201
    locked_name = f"victim{uuid.uuid4().hex[:6]}"
    for _ in range(3):
        call(daphne.url, "POST", "/api/auth/token/", body={"username": locked_name, "password": "wrong-password-1"})

    before = snapshot(daphne, alice, alice_phone, bob, bob_old, cookie, locked_name)
    assert before["alice sessions"][0] == 200 and len(before["alice sessions"][1]) == 1  # the phone logged out
    assert before["cookie session"] == (200, [(before["cookie session"][1][0][0], True)])
    assert before["logged-out access"] == (401, "session_revoked")
    assert before["logged-out refresh"][0] == 401
    assert before["logout-all old access"][0] == 401
    assert before["logout-all new login"] == (200, bob.username)
    assert before["locked-out login"] == (429, None)
    assert before["chat"] == ["one", "two", "three"]

    server.kill()  # SIGKILL: no shutdown save, only what appendfsync always wrote
    server.start()  # same port and directory: Redis replays its AOF

    after = snapshot(daphne, alice, alice_phone, bob, bob_old, cookie, locked_name)
    print(f"\nbefore: {before}\nafter:  {after}")
    assert after == before
