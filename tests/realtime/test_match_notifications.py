"""A mutual like in the demo API notifies both users: over their open sockets, and in ``GET /api/notifications/``.

The demo (the project) connects its own ``match_created`` receiver to realtime_app's public
``publish_notification``; these tests go through the real like endpoint, never the receiver directly.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from winkr.demo.signals import match_created

from .test_e2e_daphne import recv

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def like(client: Client, user_id: int):
    return client.post(f"/api/matches/{user_id}/like/")


def test_the_demo_wires_its_signal_to_realtime_app():
    """The reusable app does not listen to the project's signal; the project's demo does."""
    receivers = [entry[1]() for entry in match_created.receivers]  # (lookup key, weak ref[, is_async])
    assert [(r.__module__, r.__name__) for r in receivers] == [("winkr.demo.receivers", "notify_match")]


async def test_mutual_like_notifies_both_open_sockets_and_rest(users, connect):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    alice_socket = await connect(alice, "/ws/notifications/")
    bob_socket = await connect(bob, "/ws/notifications/")
    carol_socket = await connect(carol, "/ws/notifications/")
    alice_client, bob_client = await sync_to_async(logged_in)(alice), await sync_to_async(logged_in)(bob)
    before = (await sync_to_async(bob_client.get)("/api/notifications/")).json()["last_id"]

    first = await sync_to_async(like)(alice_client, bob.pk)
    assert (first.status_code, first.json()["match"]) == (201, False)
    assert await alice_socket.receive_nothing(timeout=0.2)  # a one-sided like is no match
    assert await bob_socket.receive_nothing(timeout=0.05)

    second = await sync_to_async(like)(bob_client, alice.pk)
    assert (second.status_code, second.json()["match"]) == (201, True)
    alice_frame = await alice_socket.receive_json_from(timeout=2)
    bob_frame = await bob_socket.receive_json_from(timeout=2)
    assert (alice_frame["type"], alice_frame["kind"], alice_frame["data"]) == ("notification", "match",
                                                                               {"user_id": bob.pk})
    assert (bob_frame["type"], bob_frame["kind"], bob_frame["data"]) == ("notification", "match",
                                                                         {"user_id": alice.pk})
    assert await carol_socket.receive_nothing(timeout=0.2)

    # The same notification is kept for clients that were not connected: ?since= returns it, once.
    for client, frame in ((alice_client, alice_frame), (bob_client, bob_frame)):
        url = "/api/notifications/" + (f"?since={before}" if before and client is bob_client else "")
        body = (await sync_to_async(client.get)(url)).json()
        assert body["notifications"] == [frame] and body["last_id"] == frame["id"]
        again = (await sync_to_async(client.get)(f"/api/notifications/?since={frame['id']}")).json()
        assert again["notifications"] == []

    # Liking again is not a new match: no second notification.
    assert (await sync_to_async(like)(bob_client, alice.pk)).status_code == 200
    assert await alice_socket.receive_nothing(timeout=0.2)


# --- the real thing: daphne, the JWT API and the `websockets` client -----------------------------------------

def api(server, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our local daphne
        return response.status, json.loads(response.read() or b"null")


def register_and_login(server, name: str) -> dict:
    password = f"A-long-{name}-passw0rd!"
    _, user = api(server, "POST", "/api/auth/register/", {"username": name, "password": password})
    _, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": password})
    return {"id": user["id"], "token": tokens["access"]}


async def test_mutual_like_through_daphne_reaches_websockets_clients(daphne_factory):
    server = daphne_factory()
    alice, bob = [await asyncio.to_thread(register_and_login, server, name) for name in ("alice", "bob")]
    from websockets.asyncio.client import connect as ws_connect

    def notifications_socket(user: dict):
        return ws_connect(f"ws://127.0.0.1:{server.port}/ws/notifications/?token={user['token']}",
                          origin=server.url, open_timeout=5)

    async with notifications_socket(alice) as alice_ws, notifications_socket(bob) as bob_ws:
        status, body = await asyncio.to_thread(api, server, "POST", f"/api/matches/{bob['id']}/like/",
                                               token=alice["token"])
        assert (status, body["match"]) == (201, False)
        status, body = await asyncio.to_thread(api, server, "POST", f"/api/matches/{alice['id']}/like/",
                                               token=bob["token"])
        assert (status, body["match"]) == (201, True)
        alice_frame, bob_frame = await recv(alice_ws), await recv(bob_ws)
    assert (alice_frame["kind"], alice_frame["data"]) == ("match", {"user_id": bob["id"]})
    assert (bob_frame["kind"], bob_frame["data"]) == ("match", {"user_id": alice["id"]})
    _, kept = await asyncio.to_thread(api, server, "GET", "/api/notifications/?since=0-0", token=bob["token"])
    assert kept["notifications"] == [bob_frame]
