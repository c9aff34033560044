"""Channel layers built from WINKR_REDIS, and behaviour when Redis is down."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from caching_app.foundation.config import parse_alias
from caching_app.foundation.connections import redis_connections
from realtime_app.layers import RedisChannelLayer, RedisPubSubChannelLayer, host_for_alias
from tests.conftest import redis_settings


def test_host_dicts_follow_the_alias_configuration():
    tls = parse_alias("state", {"URL": "rediss://app@redis.internal:6380/2", "PASSWORD": "s3cret",
                                "SSL_CA_CERTS": "/ca.pem"})
    assert host_for_alias(tls, pubsub=True) == {
        "address": "rediss://redis.internal:6380/2", "username": "app", "password": "s3cret",
        "socket_connect_timeout": 5.0, "ssl_ca_certs": "/ca.pem", "ssl_cert_reqs": "required"}
    sentinel = parse_alias("state", {"MODE": "sentinel", "SENTINELS": ["10.0.0.1:26379", "10.0.0.2:26379"],
                                     "SENTINEL_SERVICE": "main", "SENTINEL_PASSWORD": "sp", "PASSWORD": "p"})
    host = host_for_alias(sentinel, pubsub=False)
    assert host["sentinels"] == [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    assert (host["master_name"], host["sentinel_kwargs"], host["password"]) == ("main", {"password": "sp"}, "p")
    cluster = parse_alias("state", {"MODE": "cluster", "URL": "redis://10.0.0.5:7000/0",
                                    "CLUSTER_NODES": ["10.0.0.5:7000", "10.0.0.6:7000"]})
    assert host_for_alias(cluster, pubsub=True)["address"] == "redis://10.0.0.5:7000/0"
    with pytest.raises(ImproperlyConfigured, match="Cluster"):
        host_for_alias(cluster, pubsub=False)


async def test_layers_without_hosts_use_the_state_alias(redis_server):
    for layer in (RedisPubSubChannelLayer(), RedisChannelLayer(capacity=10, expiry=5)):
        channel = await layer.new_channel()
        await layer.group_add("winkr.test", channel)
        await layer.group_send("winkr.test", {"type": "hello", "n": 1})
        assert await layer.receive(channel) == {"type": "hello", "n": 1}
        await layer.flush()
    assert f":{redis_server.port}/" in RedisChannelLayer().hosts[0]["address"]


async def test_layers_shard_over_several_aliases(spawn_redis, redis_server):
    other = spawn_redis()
    with override_settings(WINKR_REDIS={"state": {"URL": redis_server.url}, "cache": {"URL": redis_server.url},
                                        "shard2": {"URL": other.url}}):
        layer = RedisPubSubChannelLayer(aliases=["state", "shard2"])
        channels = [await layer.new_channel() for _ in range(4)]
        for i, channel in enumerate(channels):
            await layer.group_add(f"winkr.g{i}", channel)
        for i in range(4):
            await layer.group_send(f"winkr.g{i}", {"type": "x", "i": i})
        assert [(await layer.receive(c))["i"] for c in channels] == [0, 1, 2, 3]
        addresses = [h["address"] for h in layer._kwargs["hosts"]]
        assert [f":{redis_server.port}/" in addresses[0], f":{other.port}/" in addresses[1]] == [True, True]
        await layer.flush()
    redis_connections.reset()


@pytest.mark.django_db(transaction=True)
def test_redis_down_gives_503_and_recovers(users, spawn_redis):
    server = spawn_redis()
    # Chat storage on its own server, sessions (cache alias) on the test server that stays up.
    aliases = redis_settings()
    aliases["chat"] = {**aliases["state"], "URL": server.url}
    override = override_settings(WINKR_REDIS=aliases, WINKR_REALTIME={"REDIS_ALIAS": "chat"})
    override.enable()
    client = Client()
    client.force_login(users["alice"])
    url = f"/api/chat/{users['bob'].pk}/messages/"
    server.stop()
    response = client.post(url, {"text": "lost?"}, content_type="application/json")
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert client.get(url).status_code == 503
    assert client.get("/api/notifications/").status_code == 503
    server.start()
    try:
        assert client.post(url, {"text": "back"}, content_type="application/json").status_code == 201
    finally:
        override.disable()


@pytest.mark.django_db(transaction=True)
async def test_redis_down_gives_an_error_frame_and_the_socket_survives(users, connect, spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url)
    socket = await connect(users["alice"])
    server.stop()
    await socket.send_json_to({"type": "chat.message", "to": users["bob"].pk, "text": "hi", "client_id": "x"})
    reply = await socket.receive_json_from(timeout=10)
    assert (reply["type"], reply["code"], reply["client_id"]) == ("error", "unavailable", "x")
    await sync_to_async(server.start)()
    await socket.send_json_to({"type": "chat.message", "to": users["bob"].pk, "text": "hi", "client_id": "y"})
    assert (await socket.receive_json_from(timeout=10))["type"] == "chat.ack"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["RedisPubSubChannelLayer", "RedisChannelLayer"])
async def test_channel_layer_down_at_connect_closes_with_try_again(users, spawn_redis, use_redis, settings, backend):
    """The layer cannot make the socket's channel (pub/sub) or join its groups (core): the client gets close
    code 4013 (1013 "try again" in the application range daphne can send), not a crashed application."""
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from realtime_app.routing import websocket_urlpatterns

    server = spawn_redis()
    use_redis(server.url)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"realtime_app.layers.{backend}", "CONFIG": {}}}
    server.stop()
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    socket.scope["user"] = users["alice"]
    connected, _ = await socket.connect(timeout=30)
    assert connected
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4013}
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@override_settings(WINKR_REALTIME={"PRESENCE_TTL": 1, "HEARTBEAT_INTERVAL": 0.2})
async def test_channel_layer_down_at_disconnect_still_stops_the_heartbeat(users, spawn_redis, use_redis):
    """A group_discard failing on disconnect used to skip disconnect(): the heartbeat kept the user online."""
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from realtime_app.routing import websocket_urlpatterns
    from sessions_app.services import ais_user_online

    server = spawn_redis()
    use_redis(server.url)
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    socket.scope["user"] = users["alice"]
    assert (await socket.connect())[0]
    assert await ais_user_online(users["alice"].pk)
    await sync_to_async(server.stop)()
    await socket.disconnect(timeout=30)
    await sync_to_async(server.start)()
    await asyncio.sleep(1.5)  # past PRESENCE_TTL: only a still-running heartbeat keeps the user online
    assert not await ais_user_online(users["alice"].pk)
