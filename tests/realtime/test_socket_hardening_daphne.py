"""Issue 14's socket findings against the real thing: daphne processes, real Redis, a real `websockets` client.

Each test reproduces the attack first; on the main branch before the fix every one of them fails.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from caching_app.devservers.asgi_servers import ROOT
from caching_app.foundation.connections import get_redis
from realtime_app.keys import conversation_key, partners_key
from sessions_app import services

from .test_e2e_daphne import make_users, recv, socket

pytestmark = pytest.mark.django_db(transaction=True)

HEALTH_TOKEN = "test-health-token-0123456789"
MIB = 1024 * 1024


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = "no VmRSS"
    raise AssertionError(msg)


def metric(server, name: str, **labels: str) -> float:
    request = urllib.request.Request(f"{server.url}/health/metrics",
                                     headers={"Authorization": f"Bearer {HEALTH_TOKEN}", "Accept": "text/plain"})
    text = urllib.request.urlopen(request, timeout=5).read().decode()  # noqa: S310 - the test's own server
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "_total") and (not labels or "{" + wanted + "}" in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def wait_for(predicate, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.05)


def commands(port: int) -> int:
    """Commands the server ran since CONFIG RESETSTAT, not counting the test's own INFO/CONFIG."""
    stats = redis.Redis(port=port).info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config"))


def seed_conversation(sender_id, recipient_id, count: int, length: int) -> None:
    client = get_redis("state")
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(conversation_key(sender_id, recipient_id),
                  {"from": str(sender_id), "to": str(recipient_id), "text": f"{i:04d}".ljust(length, "x")})
    for owner, partner in ((sender_id, recipient_id), (recipient_id, sender_id)):
        pipe.zadd(partners_key(owner), {str(partner): 10**13})
    pipe.execute()


# --- finding 1: memory exhaustion by a client that never reads ------------------------------------------------

async def test_a_client_that_never_reads_cannot_grow_daphne(daphne_factory):
    """200 chat.sync frames on a 240 x 2,000-character conversation, never read: daphne's RSS stays bounded.

    Measured on main before the fix: RSS grew by about 150 MiB and stayed. Now a sync sends at most
    REPLAY_PAGE_SIZE messages and a second sync while a page is still queued is refused (sync_in_progress).
    The frame rate limit is raised here so that all 200 frames are handled (by default the burst is cut
    off and the socket closed after 160 of them, see the ping flood test).
    """
    server = daphne_factory(env={"HEALTH_TOKEN": HEALTH_TOKEN, "REALTIME_FRAME_RATE_FRAMES": "1000"})
    users = make_users(server)
    alice, bob = users["alice"], users["bob"]
    seed_conversation(alice["id"], bob["id"], 240, 2000)
    async with socket(server, bob) as warm:  # warm the code paths, so the baseline is not import-time growth
        await warm.send(json.dumps({"type": "chat.sync", "since": "0"}))
        while (await recv(warm))["type"] != "chat.synced":
            pass
    before = rss(server.process.pid)
    answered = metric(server, "winkr_realtime_sync_pages") + metric(server, "winkr_realtime_frame_errors")

    async with socket(server, bob) as attacker:
        frame = json.dumps({"type": "chat.sync", "since": "0"})
        for _ in range(200):
            await attacker.send(frame)
        await wait_for(lambda: metric(server, "winkr_realtime_sync_pages")
                       + metric(server, "winkr_realtime_frame_errors") - answered >= 200, "200 syncs answered")
        after = rss(server.process.pid)
        print(f"daphne RSS before {before / MIB:.1f} MiB, after 200 unread syncs {after / MIB:.1f} MiB "
              f"(+{(after - before) / MIB:.1f} MiB)")
        assert after - before < 30 * MIB

        # Now read it all: full pages, each ending with "more", and the syncs refused while one was queued.
        pages, refused, messages = 0, 0, 0
        while pages + refused < 200:
            reply = json.loads(await asyncio.wait_for(attacker.recv(), 10))
            if reply["type"] == "chat.synced":
                pages += 1
                assert reply["count"] == 100 and reply["more"] is True
            elif reply["type"] == "chat.message":
                messages += 1
            else:
                assert reply == {"type": "error", "code": "sync_in_progress", "detail": reply["detail"]}
                refused += 1
        assert refused > 0 and messages == 100 * pages


async def test_a_client_that_does_not_read_live_traffic_is_closed_4008(daphne_factory):
    """Live notifications to a socket that never reads: past MAX_OUTGOING_BYTES queued, the socket closes (4008)."""
    from realtime_app.notifications import apublish_notification

    server = daphne_factory(env={"HEALTH_TOKEN": HEALTH_TOKEN, "REALTIME_MAX_OUTGOING_BYTES": str(256 * 1024)})
    bob = make_users(server)["bob"]
    async with socket(server, bob, "/ws/notifications/") as ws:
        assert await services.ais_user_online(bob["id"])
        before = rss(server.process.pid)
        payload = "y" * 8000
        for i in range(2500):  # 20 MB: more than the kernel's socket buffers hold, then daphne's
            await apublish_notification(bob["id"], "flood", f"n{i}", {"p": payload})
            if i % 100 == 0 and metric(server, "winkr_realtime_policy_closes", why="not_reading"):
                break
        await wait_for(lambda: metric(server, "winkr_realtime_policy_closes", why="not_reading") == 1,
                       "the not-reading close")
        assert rss(server.process.pid) - before < 30 * MIB
        # Cleanup ran although the client never answered the close: presence is gone.
        await wait_for(lambda: not services.is_user_online(bob["id"]), "bob offline", within=30)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)


# --- finding 3 (socket side) and 8: bad input is an error frame, and cleanup always runs ---------------------

async def test_surrogates_and_boundary_ids_get_error_frames_and_leave_no_presence(daphne_factory):
    server = daphne_factory()
    users = make_users(server)
    alice, bob = users["alice"], users["bob"]
    async with socket(server, alice) as ws:
        cases = [
            (f'{{"type": "chat.message", "to": {bob["id"]}, "text": "\\ud800"}}', "invalid_text"),
            (f'{{"type": "chat.message", "to": {bob["id"]}, "text": "hi", "client_id": "\\udfff"}}',
             "invalid_client_id"),
            ('{"type": "chat.sync", "since": "18446744073709551615-18446744073709551615"}', "invalid_since"),
            ('{"type": "chat.sync", "since": "18446744073709551616-0"}', "invalid_since"),
        ]
        for frame, code in cases:
            await ws.send(frame)
            reply = await recv(ws)
            assert (reply["type"], reply["code"]) == ("error", code), reply
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        assert services.is_user_online(alice["id"])
    # Closed by the client: presence is released (on main the surrogate closed 1011 and the heartbeat kept it).
    await wait_for(lambda: not services.is_user_online(alice["id"]), "alice offline", within=15)


# --- finding 9: frame rate and cheap pings -------------------------------------------------------------------

async def test_a_ping_flood_is_cut_off_and_costs_almost_no_redis(daphne_factory, redis_server):
    server = daphne_factory()
    alice = make_users(server)["alice"]
    async with socket(server, alice) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        redis.Redis(port=redis_server.port).config_resetstat()
        with pytest.raises(ConnectionClosed):
            start = time.monotonic()
            for _ in range(3000):
                await ws.send('{"type": "ping"}')
            while time.monotonic() - start < 30:  # the close is on its way: read up to it
                await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 4008
    used = commands(redis_server.port)
    print(f"Redis commands for a 3,000-ping flood: {used}")
    assert used < 50  # main: about 21,000 (a presence refresh per ping); now the disconnect's cleanup only


async def test_pings_within_the_limit_do_not_refresh_presence_each_time(daphne_factory, redis_server):
    server = daphne_factory(env={"REALTIME_FRAME_RATE_FRAMES": "100000"})
    alice = make_users(server)["alice"]
    async with socket(server, alice) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        redis.Redis(port=redis_server.port).config_resetstat()
        for _ in range(3000):
            await ws.send('{"type": "ping"}')
        pongs = 0
        while pongs < 3000:
            assert await recv(ws) == {"type": "pong"}
            pongs += 1
        used = commands(redis_server.port)
    print(f"Redis commands for 3,000 pings within the limit: {used}")
    assert used < 20  # a heartbeat at most (HEARTBEAT_INTERVAL 20 s), not one per ping


# --- finding 4 (second half): sockets close when their token expires, unless re-authenticated ----------------

MINT = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from sessions_app import services
from sessions_app.jwt.tokens import SessionRefreshToken
User = get_user_model()
alice, _ = User.objects.get_or_create(username="alice")
bob, _ = User.objects.get_or_create(username="bob")
session = services.create_session(alice.pk, kind="jwt")
refresh = SessionRefreshToken.for_session(alice, session.id)
short = refresh.access_token
longer = refresh.access_token
longer.set_exp(lifetime=timedelta(seconds=600))
other = SessionRefreshToken.for_session(bob, services.create_session(bob.pk, kind="jwt").id).access_token
print(json.dumps({"short": str(short), "long": str(longer), "long_exp": longer["exp"], "other": str(other)}))
"""


def mint(server) -> dict:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", MINT], cwd=ROOT, env=server.env,
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def token_socket(server, token: str):
    return connect(f"ws://127.0.0.1:{server.port}/ws/chat/?token={token}", origin=server.url, open_timeout=5)


async def test_a_socket_closes_when_its_token_expires_unless_it_reauthenticates(daphne_factory):
    server = daphne_factory(env={"ACCESS_TOKEN_TTL": "8"})
    tokens = mint(server)
    async with token_socket(server, tokens["short"]) as plain, token_socket(server, tokens["short"]) as renewed:
        for bad, code in [("garbage", "invalid_token"), (tokens["other"], "wrong_user"), (7, "invalid_token")]:
            await renewed.send(json.dumps({"type": "auth.refresh", "token": bad}))
            reply = await recv(renewed)
            assert (reply["type"], reply["code"]) == ("error", code), reply
        await renewed.send(json.dumps({"type": "auth.refresh", "token": tokens["long"]}))
        ok = await recv(renewed)
        assert ok["type"] == "auth.ok" and ok["exp"] == tokens["long_exp"]

        with pytest.raises(ConnectionClosed):  # the 8-second token runs out: 4401
            await asyncio.wait_for(plain.recv(), 30)
        assert plain.close_code == 4401
        # Same original token, same expiry, but re-authenticated: still open and usable.
        await renewed.send(json.dumps({"type": "ping"}))
        assert await recv(renewed) == {"type": "pong"}


# --- finding 10: the Origin check compares scheme, host and port ----------------------------------------------

async def test_origin_with_another_port_or_scheme_is_refused_even_with_the_cookie(daphne_factory):
    server = daphne_factory()
    alice = make_users(server)["alice"]
    for origin in ("http://127.0.0.1:1", f"https://127.0.0.1:{server.port}", "http://localhost:1"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{server.port}/ws/chat/", origin=origin, open_timeout=5,
                               additional_headers={"Cookie": f"sessionid={alice['session']}"}):
                pass
        assert refused.value.response.status_code == 403, origin
    async with socket(server, alice) as ws:  # its own origin, scheme and port: accepted
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
