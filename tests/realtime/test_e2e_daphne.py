"""The real thing: the `websockets` client against daphne processes sharing one Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from websockets.asyncio.client import connect

from caching_app.devservers.asgi_servers import ROOT

MAKE_USERS = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
out = {}
for name in ("alice", "bob"):
    user, _ = get_user_model().objects.get_or_create(username=name)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    out[name] = {"id": user.pk, "session": session.session_key}
print(json.dumps(out))
"""


def make_users(server) -> dict:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", MAKE_USERS], cwd=ROOT, env=server.env,
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def socket(server, user: dict, path: str = "/ws/chat/"):
    return connect(f"ws://127.0.0.1:{server.port}{path}", origin=f"http://127.0.0.1:{server.port}",
                   additional_headers={"Cookie": f"sessionid={user['session']}"}, open_timeout=5)


async def recv(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_chat_across_two_daphne_processes_and_replay_after_reconnect(daphne_factory):
    first, second = daphne_factory(), daphne_factory()
    users = make_users(first)
    alice, bob = users["alice"], users["bob"]

    async with socket(first, alice) as alice_ws, socket(second, bob) as bob_ws:
        await alice_ws.send(json.dumps({"type": "chat.message", "to": bob["id"], "text": "hi", "client_id": "1"}))
        ack = await recv(alice_ws)
        assert ack["type"] == "chat.ack" and ack["client_id"] == "1"
        delivered = await recv(bob_ws)
        assert (delivered["id"], delivered["from"], delivered["text"]) == (ack["id"], str(alice["id"]), "hi")
        await bob_ws.send(json.dumps({"type": "chat.message", "to": alice["id"], "text": "hello"}))
        reply_ack = await recv(bob_ws)
        assert (await recv(alice_ws))["id"] == reply_ack["id"]
        last_seen = reply_ack["id"]

    # Bob is gone while alice writes three messages (through the other process).
    async with socket(first, alice) as alice_ws:
        missed = []
        for i in range(3):
            await alice_ws.send(json.dumps({"type": "chat.message", "to": bob["id"], "text": f"m{i}"}))
            missed.append((await recv(alice_ws))["id"])

    async with socket(second, bob, f"/ws/chat/?since={last_seen}") as bob_ws:
        frames = [await recv(bob_ws) for _ in range(4)]
        assert [f["id"] for f in frames[:3]] == missed
        assert [f["text"] for f in frames[:3]] == ["m0", "m1", "m2"]
        assert frames[3] == {"type": "chat.synced", "count": 3, "last_id": missed[-1], "cursor": frames[2]["cursor"],
                             "more": False}


async def test_unauthenticated_socket_closes_with_4401(daphne_factory):
    server = daphne_factory()
    async with connect(f"ws://127.0.0.1:{server.port}/ws/chat/", origin=f"http://127.0.0.1:{server.port}") as ws:
        await ws.wait_closed()
        assert ws.close_code == 4401
