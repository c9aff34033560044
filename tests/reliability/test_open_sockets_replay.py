"""No silent loss to open sockets: real daphne, real ``websockets`` clients, a real Redis that goes away.

While the channel layer's subscription is down, published messages are lost (pub/sub is at-most-once).
When it is back, every open socket replays from its last position, so a message sent right after a
Redis restart, a Sentinel failover or a Cluster master failover reaches the open socket of its
recipient: in order, exactly once, without the client asking. A later ``chat.sync`` shows each once too.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis

from caching_app.devservers.redis_servers import wait_replicas_caught_up
from tests.realtime.test_e2e_daphne import make_users, socket

pytestmark = pytest.mark.slow
RECOVERY = 45.0  # seconds a failover may take on a loaded machine


async def frame(ws, within: float = RECOVERY) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def send_until_acked(ws, to: int, text: str, client_id: str) -> dict:
    """Send a chat message; while Redis is away the socket answers "unavailable", so resend (same client_id)."""
    deadline = time.monotonic() + RECOVERY
    while True:
        await ws.send(json.dumps({"type": "chat.message", "to": to, "text": text, "client_id": client_id}))
        while True:
            reply = await frame(ws)
            if reply.get("client_id") == client_id and reply["type"] in ("chat.ack", "error"):
                break
        if reply["type"] == "chat.ack":
            return reply
        assert reply["code"] == "unavailable", reply
        assert time.monotonic() < deadline, "Redis did not come back"
        await asyncio.sleep(0.2)


async def chat_messages_until(ws, last_id: str) -> list[dict]:
    messages = []
    while True:
        reply = await frame(ws)
        if reply["type"] == "chat.message":
            messages.append(reply)
            if reply["id"] == last_id:
                return messages


async def chat_through(alice_server, bob_server, users: dict, break_redis) -> None:
    alice, bob = users["alice"], users["bob"]
    async with socket(alice_server, alice) as alice_ws, socket(bob_server, bob) as bob_ws:
        first = await send_until_acked(alice_ws, bob["id"], "before", "c0")
        assert [m["id"] for m in await chat_messages_until(bob_ws, first["id"])] == [first["id"]]

        await asyncio.to_thread(break_redis)
        sent = [await send_until_acked(alice_ws, bob["id"], f"m{n}", f"c{n}") for n in (1, 2, 3)]
        received = await chat_messages_until(bob_ws, sent[-1]["id"])
        assert [m["id"] for m in received] == [s["id"] for s in sent]  # all, in order, once
        assert [m["text"] for m in received] == ["m1", "m2", "m3"]

        last = await send_until_acked(alice_ws, bob["id"], "after", "c4")
        assert [m["id"] for m in await chat_messages_until(bob_ws, last["id"])] == [last["id"]]  # no late copy

        await bob_ws.send(json.dumps({"type": "chat.sync", "since": first["cursor"]}))
        synced = []
        while (reply := await frame(bob_ws))["type"] != "chat.synced":
            synced.append(reply["id"])
        assert synced == [s["id"] for s in sent] + [last["id"]]


async def test_redis_restart_with_open_sockets(spawn_redis, daphne_on):
    server = spawn_redis("--appendonly", "yes", "--appendfsync", "always")
    daphne = daphne_on(server.url)
    users = make_users(daphne)

    def restart() -> None:
        server.kill()
        server.start()

    await chat_through(daphne, daphne, users, restart)


async def test_sentinel_failover_with_open_sockets(redis_sentinel, daphne_on):
    daphne = daphne_on(redis_sentinel.primary.url, REDIS_MODE="sentinel",
                       REDIS_SENTINELS=",".join(redis_sentinel.sentinel_addresses),
                       REDIS_SENTINEL_SERVICE=redis_sentinel.service)
    users = make_users(daphne)

    def fail_over() -> None:
        wait_replicas_caught_up(redis_sentinel.primary.port)
        redis_sentinel.primary.kill()

    await chat_through(daphne, daphne, users, fail_over)


def _master_subscribed_to(cluster, pattern: str):
    for node in cluster.nodes:
        client = redis.Redis(port=node.port, socket_timeout=2)
        if client.info("replication")["role"] == "master" and client.execute_command("PUBSUB", "SHARDCHANNELS",
                                                                                      pattern):
            return node
    msg = f"no master has a shard channel matching {pattern}"
    raise AssertionError(msg)


@pytest.mark.cluster
async def test_cluster_failover_with_two_daphne_processes(cluster_with_replicas, daphne_on):
    cluster = cluster_with_replicas
    env = {"REDIS_MODE": "cluster", "REDIS_CLUSTER_NODES": ",".join(cluster.seeds)}
    url = f"redis://{cluster.seeds[0]}/0"
    alice_server = daphne_on(url, **env)
    bob_server = daphne_on(url, DATABASE_URL=alice_server.env["DATABASE_URL"], **env)  # the same users
    users = make_users(alice_server)

    def kill_bobs_master() -> None:
        # The master holding the sharded channel of bob's chat group (the sockets are open, so it exists).
        victim = _master_subscribed_to(cluster, f"*__group__winkr.chat.{users['bob']['id']}")
        wait_replicas_caught_up(victim.port)
        victim.kill()

    await chat_through(alice_server, bob_server, users, kill_bobs_master)
