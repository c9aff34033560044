"""The whole project under daphne, speaking TLS to a redis-server that only knows docker/redis-acl.conf's user.

Debian's redis-server (TLS build) gets trustme certificates and an ``--aclfile`` made from
docker/redis-acl.conf (with a test password); daphne gets rediss:// + REDIS_USERNAME/PASSWORD +
REDIS_TLS_CA_CERTS, as production would. Login, sessions, throttles, cache, JWT logout, chat over a
WebSocket and health must all work, a forbidden command is refused, and the server's ACL LOG must
show no refusal caused by the apps: the ACL holds everything they need.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.error
import urllib.request

import pytest
import redis
import trustme
from websockets.asyncio.client import connect

from caching_app.devservers.redis_servers import find_binary, free_port, supports_tls
from tests.deploy import deployfiles

pytestmark = pytest.mark.slow
BINARY = find_binary()
APP_PASSWORD = secrets.token_urlsafe(24)
ADMIN_PASSWORD = secrets.token_urlsafe(24)


@pytest.fixture
def tls_acl_redis(tmp_path, spawn_redis):
    if not BINARY or not supports_tls(BINARY):
        pytest.skip(f"{BINARY or 'no redis-server'} was built without TLS (Debian's /usr/bin/redis-server has it)")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    acl = tmp_path / "users.acl"  # the deploy file's rules, the password adapted; an admin default user
    acl.write_text(f"user default on >{ADMIN_PASSWORD} ~* &* +@all\n"
                   f"user winkr on >{APP_PASSWORD} {' '.join(deployfiles.acl_rules())}\n")
    tls_port = free_port()
    server = spawn_redis("--aclfile", str(acl), "--tls-port", str(tls_port), "--tls-cert-file",
                         str(tmp_path / "server.pem"), "--tls-key-file", str(tmp_path / "server.key"),
                         "--tls-ca-cert-file", str(tmp_path / "ca.pem"), "--tls-auth-clients", "no",
                         binary=BINARY)
    admin = redis.Redis(port=server.port, password=ADMIN_PASSWORD)
    admin.acl_log_reset()
    return {"tls_port": tls_port, "ca": str(tmp_path / "ca.pem"), "admin": admin, "server": server}


def http(base: str, method: str, path: str, body: dict | None = None, token: str | None = None
         ) -> tuple[int, dict, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                     method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test server
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, dict(error.headers), json.loads(raw) if raw else {}


async def chat_over_websocket(server, alice: dict, bob: dict) -> tuple[dict, dict]:
    origin = f"http://127.0.0.1:{server.port}"
    url = f"ws://127.0.0.1:{server.port}/ws/chat/"
    async with connect(f"{url}?token={alice['access']}", origin=origin, open_timeout=5) as alice_ws, \
            connect(f"{url}?token={bob['access']}", origin=origin, open_timeout=5) as bob_ws:
        await alice_ws.send(json.dumps({"type": "chat.message", "to": bob["id"], "text": "over TLS", "client_id": "1"}))
        ack = json.loads(await asyncio.wait_for(alice_ws.recv(), 5))
        delivered = json.loads(await asyncio.wait_for(bob_ws.recv(), 5))
        return ack, delivered


def test_the_project_runs_over_tls_as_the_acl_user(tls_acl_redis, daphne_factory):
    server = daphne_factory(env={
        "REDIS_URL": f"rediss://127.0.0.1:{tls_acl_redis['tls_port']}/0", "REDIS_USERNAME": "winkr",
        "REDIS_PASSWORD": APP_PASSWORD, "REDIS_TLS_CA_CERTS": tls_acl_redis["ca"],
        "RATELIMIT_LOGIN": "3/15m",
    })
    base = server.url
    users = {}
    for name in ("alice", "bob"):
        status, _, body = http(base, "POST", "/api/auth/register/", {"username": name, "password": "pw-Str0ng-" + name})
        assert status == 201, body
        status, _, tokens = http(base, "POST", "/api/auth/token/", {"username": name, "password": "pw-Str0ng-" + name})
        assert status == 200, tokens
        users[name] = {"id": body["id"], **tokens}
    alice, bob = users["alice"], users["bob"]

    status, _, sessions = http(base, "GET", "/api/sessions/", token=alice["access"])
    assert status == 200 and [s["id"] for s in sessions] == [alice["session_id"]]
    status, headers, _ = http(base, "GET", "/api/ratelimit/status/", token=alice["access"])
    assert status == 200
    # Bob's public profile: the first read fills the cache (through django-redis and caching_app), the next hits.
    http(base, "GET", "/api/profiles/me/", token=bob["access"])  # creates bob's profile
    first = http(base, "GET", f"/api/profiles/{bob['id']}/", token=alice["access"])
    second = http(base, "GET", f"/api/profiles/{bob['id']}/", token=alice["access"])
    assert (first[0], first[1]["X-Cache"], second[1]["X-Cache"]) == (200, "MISS", "HIT")
    refused = [http(base, "POST", "/api/auth/token/", {"username": "bob", "password": "wrong"})[0] for _ in range(4)]
    assert refused == [401, 401, 401, 429]  # the login throttle counts in Redis, over TLS

    ack, delivered = asyncio.run(chat_over_websocket(server, alice, bob))
    assert ack["type"] == "chat.ack" and delivered["text"] == "over TLS"
    status, _, history = http(base, "GET", f"/api/chat/{alice['id']}/messages/", token=bob["access"])
    assert status == 200 and [m["text"] for m in history["messages"]] == ["over TLS"]

    status, _, health = http(base, "GET", "/health")
    assert status == 200, health
    assert http(base, "POST", "/api/auth/logout/", token=alice["access"])[0] == 204
    assert http(base, "GET", "/api/auth/me/", token=alice["access"])[0] == 401  # revoked, in Redis
    assert http(base, "GET", "/api/auth/me/", token=bob["access"])[0] == 200

    app = redis.Redis(host="127.0.0.1", port=tls_acl_redis["tls_port"], username="winkr", password=APP_PASSWORD,
                      ssl=True, ssl_ca_certs=tls_acl_redis["ca"])
    assert app.ping()
    for command in (("FLUSHALL",), ("CONFIG", "GET", "requirepass"), ("KEYS", "*"), ("SET", "other:key", "x")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    with pytest.raises(redis.exceptions.ConnectionError):  # the TLS port speaks only TLS
        redis.Redis(port=tls_acl_redis["tls_port"], username="winkr", password=APP_PASSWORD,
                    socket_timeout=2).ping()

    log = tls_acl_redis["admin"].acl_log()
    denied_by_apps = [entry for entry in log if entry["object"] not in ("flushall", "config|get", "keys", "other:key")]
    assert denied_by_apps == [], denied_by_apps
    assert len(log) == 4
