"""After a soak of mixed traffic (HTTP and WebSocket chat through daphne), nothing grows without bound.

Every key the apps created either expires (has a TTL) or is one of the documented bounded structures
below, whose bound the test checks too; and daphne's memory does not keep growing from one soak round
to the next.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from websockets.sync.client import connect

from .traffic import call, login, register_and_login

USERS = 6


@dataclass(frozen=True)
class Bounded:
    """A key allowed to live without a TTL: what bounds it, and a check of that bound."""

    pattern: str
    why: str
    max_size: int


# Bounds for the soak below (USERS users, a few sessions each). Each entry names what keeps it bounded.
BOUNDED = [
    Bounded(r"^winkr:session:\{all\.\d+\.\d+\}:all$",
            "a bucket of the index of live device sessions (id -> expiry): entries leave on "
            "logout/revocation/eviction and the sweep at login (CLEANUP_INTERVAL) and clearsessions drop expired ones",
            max_size=USERS * 10 + 10),
    Bounded(r"^winkr:presence:\{online\.\d+\.\d+\}:online$",
            "a bucket of the online users (user -> last activity): one entry per user, pruned past ONLINE_WINDOW",
            max_size=USERS),
    Bounded(r"^winkr:geo:\{geo\}:(locations|updated)$",
            "GEO set of user locations and its companion sorted set of update times: one member per user, "
            "members older than the geospatial TTL pruned from both (lua/geo_prune.lua)", max_size=USERS),
]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = "no VmRSS"
    raise AssertionError(msg)


def open_socket(daphne, path: str, token: str):
    return connect(f"ws://127.0.0.1:{daphne.port}/{path}?token={token}", open_timeout=10, origin=f"http://127.0.0.1:{daphne.port}")


def soak_round(daphne, users, messages_per_user: int = 5) -> int:
    """One round of every kind of traffic the apps serve; returns how many requests/frames it made."""
    made = 0
    for index, user in enumerate(users):
        peer, previous = users[(index + 1) % len(users)], users[index - 1]
        token = user.access
        steps = [
            ("GET", "/api/profiles/me/", None), ("GET", f"/api/profiles/{peer.id}/", None),
            ("PATCH", "/api/profiles/me/", {"bio": f"round {uuid.uuid4().hex[:6]}"}),
            ("GET", f"/api/profiles/{peer.id}/photos/", None),
            ("GET", "/api/matches/", None), ("POST", f"/api/matches/{peer.id}/like/", None),
            ("POST", f"/api/matches/{previous.id}/like/", None),  # mutual likes: matches, notifications
            ("PUT", "/api/location/", {"lat": 48.85 + index / 100, "lon": 2.35}),
            ("GET", "/api/nearby/?radius_km=50", None),
            ("GET", "/api/sessions/", None), ("GET", f"/api/users/{peer.id}/presence/", None),
            ("GET", "/api/ratelimit/status/", None), ("GET", "/api/notifications/", None),
            ("GET", f"/api/chat/{peer.id}/messages/", None),
            *[("POST", f"/api/chat/{peer.id}/messages/", {"text": f"m{n}"}) for n in range(messages_per_user)],
            ("GET", "/api/auth/me/", None),
        ]
        for method, path, body in steps:
            reply = call(daphne.url, method, path, token=token, body=body)
            assert reply.status < 500, (method, path, reply.status, reply.body)
            made += 1
        # A second device: log in, refresh, log out (revocation markers), and a failed login (limiter).
        phone = login(daphne.url, user.username, user.id)
        refreshed = call(daphne.url, "POST", "/api/auth/token/refresh/", body={"refresh": phone.refresh})
        assert refreshed.status == 200
        assert call(daphne.url, "POST", "/api/auth/logout/", token=refreshed.body["access"]).status == 204
        call(daphne.url, "POST", "/api/auth/token/", body={"username": user.username, "password": "wrong-pass-1"})
        made += 4
    # WebSocket chat: each user sends over a socket, pings, and receives the ack.
    for index, user in enumerate(users):
        peer = users[(index + 1) % len(users)]
        with open_socket(daphne, "ws/chat/", user.access) as socket:
            for n in range(messages_per_user):
                socket.send(json.dumps({"type": "chat.message", "to": peer.id, "text": f"ws{n}", "client_id": f"c{n}"}))
                while json.loads(socket.recv(timeout=10))["type"] != "chat.ack":
                    pass
            socket.send(json.dumps({"type": "ping"}))
            made += messages_per_user + 1
        with open_socket(daphne, "ws/notifications/", user.access) as socket:
            socket.send(json.dumps({"type": "notification.sync", "since": "0-0"}))
            made += 1
    return made


def unbounded_keys(client: redis.Redis) -> tuple[Counter, list[str]]:
    """(keys checked per namespace and verdict, why each offending key breaks the rule)."""
    problems, checked = [], Counter()
    for key in client.scan_iter(count=1000):
        name = key.decode()
        ttl = client.ttl(key)
        checked[(name.split(":")[1] if name.count(":") else name, "ttl" if ttl >= 0 else "no ttl")] += 1
        if ttl >= 0 or ttl == -2:  # expires, or expired while we walked
            continue
        rule = next((b for b in BOUNDED if re.search(b.pattern, name)), None)
        kind = client.type(key).decode()
        if rule is None:
            problems.append(f"{name} ({kind}) has no TTL and is not a documented bounded structure")
            continue
        size = {"zset": client.zcard, "set": client.scard, "hash": client.hlen, "stream": client.xlen,
                "list": client.llen}.get(kind, lambda _k: 1)(key)
        if size > rule.max_size:
            problems.append(f"{name} ({kind}) holds {size} > {rule.max_size} entries: {rule.why}")
    return checked, problems


@pytest.mark.slow
def test_soak_leaves_only_expiring_keys_or_bounded_structures_and_memory_settles(spawn_redis, daphne_on):
    server = spawn_redis()
    daphne = daphne_on(server.url)
    users = [register_and_login(daphne.url, f"soak{n}{uuid.uuid4().hex[:4]}") for n in range(USERS)]
    raw = redis.Redis(port=server.port)

    made = [soak_round(daphne, users)]  # warm-up: imports, pools, caches filled once
    rss = [rss_bytes(daphne.process.pid)]
    for _ in range(2):
        made.append(soak_round(daphne, users))
        rss.append(rss_bytes(daphne.process.pid))

    checked, problems = unbounded_keys(raw)
    mib = [round(value / 2**20, 1) for value in rss]
    print(f"\nsoak: {sum(made)} requests/frames in 3 rounds; {sum(checked.values())} keys checked "
          f"{dict(sorted(checked.items()))}; daphne RSS MiB {mib}; "
          f"Redis used_memory {raw.info('memory')['used_memory_human']}")
    namespaces = {namespace for namespace, _ in checked}
    assert {"session", "presence", "jwt", "rl", "chat", "notifications", "cache", "geo"} <= namespaces, namespaces
    assert not problems, "\n".join(problems)
    # Generous: rounds 2 and 3 repeat round 1's work; a per-request leak of even 10 kB would show as more.
    assert rss[2] - rss[1] < 16 * 2**20, f"daphne RSS grew {mib[1]} -> {mib[2]} MiB in a repeated round"
