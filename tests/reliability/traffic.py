"""Real HTTP traffic against a daphne process: JWT users, a mixed workload, and a tally per phase.

Plain ``urllib`` on purpose: every request is a fresh connection, as from many clients, and nothing in the
client retries or hides a status. Each worker thread plays one user so per-user limits stay realistic.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105 - test users only


@dataclass
class Reply:
    status: int
    body: Any  # the parsed JSON, or None when the body was not JSON
    content_type: str
    seconds: float

    @property
    def is_json(self) -> bool:
        return self.body is not None and self.content_type.startswith("application/json")


def call(base_url: str, method: str, path: str, *, token: str | None = None, body: Any = None,
         timeout: float = 15.0, headers: dict[str, str] | None = None) -> Reply:
    """One request; HTTP errors are answers too (only a socket failure raises)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base_url}{path}", data=data, method=method)  # noqa: S310
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw, content_type = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, content_type = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    seconds = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Reply(status, parsed, content_type or "", seconds)


@dataclass
class User:
    id: int
    username: str
    access: str
    refresh: str
    session_id: str


def register_and_login(base_url: str, username: str | None = None) -> User:
    username = username or f"u{uuid.uuid4().hex[:10]}"
    created = call(base_url, "POST", "/api/auth/register/", body={"username": username, "password": PASSWORD})
    assert created.status == 201, (created.status, created.body)
    return login(base_url, username, created.body["id"])


def login(base_url: str, username: str, user_id: int) -> User:
    reply = call(base_url, "POST", "/api/auth/token/", body={"username": username, "password": PASSWORD})
    assert reply.status == 200, (reply.status, reply.body)
    return User(user_id, username, reply.body["access"], reply.body["refresh"], reply.body["session_id"])


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    pairs = (header.split(";", 1)[0].split("=", 1) for header in response.headers.get_all("Set-Cookie") or [])
    return {name.strip(): value for name, value in pairs}


def cookie_login(base_url: str, username: str, password: str = PASSWORD) -> str:
    """Log a staff user in through the admin's login form; returns the ``sessionid`` cookie.

    By hand with http.client: the cookies are ``Secure`` (DEBUG is off), which a cookie jar would not
    send back over the test's plain HTTP.
    """
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        connection.request("GET", "/admin/login/")
        page = connection.getresponse()
        csrf_cookie = _cookies(page)["csrftoken"]
        form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.read()).group(1).decode()
        body = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": form_token, "next": "/admin/"})
        connection.request("POST", "/admin/login/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 302, f"admin login answered {answer.status}"
        return _cookies(answer)["sessionid"]
    finally:
        connection.close()


def mixed_operations(user: User, peer: User) -> list[tuple[str, str, str, Any, bool]]:
    """(name, method, path, body, authenticated) of one round of a user's traffic."""
    return [
        ("profile_me", "GET", "/api/profiles/me/", None, True),
        ("profile_peer", "GET", f"/api/profiles/{peer.id}/", None, True),
        ("matches", "GET", "/api/matches/", None, True),
        ("sessions", "GET", "/api/sessions/", None, True),
        ("chat_post", "POST", f"/api/chat/{peer.id}/messages/", {"text": "hello"}, True),
        ("ratelimit_status", "GET", "/api/ratelimit/status/", None, True),
        ("login", "POST", "/api/auth/token/", {"username": user.username, "password": PASSWORD}, False),
    ]


@dataclass
class Outcome:
    phase: str
    name: str
    status: int  # 0: the socket failed (no HTTP answer at all)
    code: str | None
    is_json: bool
    seconds: float


@dataclass
class MixedLoad:
    """Worker threads, one per user, looping over :func:`mixed_operations` until stopped.

    The test moves ``phase`` along ("before", "down", "recovering", ...); every outcome is
    recorded with the phase it started in.
    """

    base_url: str
    users: list[User]
    phase: str = "before"
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> MixedLoad:
        for index, user in enumerate(self.users):
            peer = self.users[(index + 1) % len(self.users)]
            thread = threading.Thread(target=self._work, args=(user, peer), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _work(self, user: User, peer: User) -> None:
        for name, method, path, body, authenticated in itertools.cycle(mixed_operations(user, peer)):
            if self._stop.is_set():
                return
            phase = self.phase
            try:
                reply = call(self.base_url, method, path, body=body, token=user.access if authenticated else None)
            except OSError:
                outcome = Outcome(phase, name, 0, None, False, 0.0)
            else:
                code = reply.body.get("code") if isinstance(reply.body, dict) else None
                outcome = Outcome(phase, name, reply.status, code, reply.is_json, reply.seconds)
            with self._lock:
                self.outcomes.append(outcome)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def in_phase(self, phase: str) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.phase == phase]

    def tally(self) -> dict[str, Counter]:
        """{phase: Counter({status: count})}, for the report and the README."""
        result: dict[str, Counter] = {}
        with self._lock:
            for outcome in self.outcomes:
                result.setdefault(outcome.phase, Counter())[outcome.status] += 1
        return result

    def wait_for(self, phase: str, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.in_phase(phase)) < count:
            if time.monotonic() > deadline:
                msg = f"only {len(self.in_phase(phase))} requests in phase {phase!r} after {timeout}s"
                raise AssertionError(msg)
            time.sleep(0.05)
