"""docker/redis-acl.conf against a real redis-server: the apps work as that user, and no more than that."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
import redis
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.cache import caches
from redis.exceptions import NoPermissionError

from caching_app.devservers.redis_servers import RedisServerProcess, free_port
from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.keys import make_key

from . import deployfiles as df

APP_PASSWORD = "app-secret"
ADMIN_PASSWORD = "admin-secret"
# Server time, a sorted-set log and its TTL: what a rate-limit script does (TIME is checked inside Lua too).
SCRIPT = """
local now = redis.call('TIME')
redis.call('ZADD', KEYS[1], now[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 60)
return redis.call('ZCARD', KEYS[1])
"""


def test_acl_file_parses_into_rules():
    rules = df.acl_rules()
    assert "-@all" in rules and "~winkr:*" in rules
    assert all(rule[0] in "~&%+-" or rule in ("resetkeys", "resetchannels") for rule in rules), rules
    assert not any(rule.startswith((">", "<", "#")) or rule in ("on", "nopass", "allkeys", "+@all") for rule in rules)
    assert rules.index("-@dangerous") < rules.index("+info")  # order matters: INFO is re-added after the cut


@pytest.fixture
def acl_server(spawn_redis):
    """A redis-server started the way docker-compose.yml starts it: admin default user + the ``winkr`` user."""
    return spawn_redis("--requirepass", ADMIN_PASSWORD, "--user", "winkr", "on", f">{APP_PASSWORD}",
                       *df.acl_rules())


@pytest.fixture
def as_app_user(acl_server, use_redis):
    use_redis(url=acl_server.url, USERNAME="winkr", PASSWORD=APP_PASSWORD)
    return acl_server


def test_the_app_user_is_what_the_server_loaded(acl_server):
    admin = redis.Redis(port=acl_server.port, password=ADMIN_PASSWORD)
    described = admin.acl_getuser("winkr")
    assert "on" in described["flags"] and "~winkr:*" in str(described["keys"])
    # ACL DRYRUN, not the rule text: Valkey prints the same rules in another order and grouping than Redis.
    def allowed(*command: str) -> bool:
        return admin.execute_command("ACL", "DRYRUN", "winkr", *command) in (b"OK", "OK")

    assert allowed("INFO") and allowed("EVALSHA", "0" * 40, "1", "winkr:k")
    assert not allowed("FLUSHALL") and not allowed("KEYS", "*")


def test_app_operations_work_as_the_acl_user(as_app_user):
    client = get_redis("state")
    key = make_key("deploy", "user", 42, tag=42)
    assert client.set(key, b"v", ex=60) and client.get(key) == b"v"
    with client.pipeline() as pipe:  # MULTI/EXEC
        pipe.hset(make_key("deploy", "h", tag=42), mapping={"a": 1}).expire(make_key("deploy", "h", tag=42), 60)
        pipe.incr(make_key("deploy", "n", tag=42))
        assert pipe.execute() == [1, True, 1]
    script = client.register_script(SCRIPT)  # EVALSHA, then SCRIPT LOAD after NOSCRIPT
    assert script(keys=[make_key("deploy", "rl", tag=7)], args=["r1"]) == 1
    assert script(keys=[make_key("deploy", "rl", tag=7)], args=["r2"]) == 2
    stream = make_key("deploy", "chat", tag="a|b")
    message_id = client.xadd(stream, {"text": "hi"}, maxlen=100)
    assert client.xrange(stream)[0][0] == message_id
    geo = make_key("deploy", "geo")
    client.geoadd(geo, (2.35, 48.85, "u1"))
    assert client.geosearch(geo, longitude=2.35, latitude=48.85, radius=1, unit="km") == [b"u1"]
    assert client.info("memory")["maxmemory_policy"]  # health reads the eviction policy from INFO
    assert client.client_getname() == "winkr-state"  # CLIENT SETNAME by the connection layer
    assert stream.encode() in set(client.scan_iter(match=make_key("deploy", "*")))  # SCAN is allowed

    cache = caches["default"]  # django-redis on the same layer
    cache.set("profile:42", {"name": "Ann"}, 60)
    assert cache.get("profile:42") == {"name": "Ann"}
    assert cache.delete("profile:42")

    channel = make_key("deploy", "notify", 42)
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    assert client.publish(channel, b"ping") == 1
    deadline = time.monotonic() + 2
    message = None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
    pubsub.close()
    assert message and message["data"] == b"ping"


async def test_async_client_and_channel_layer_work_as_the_acl_user(as_app_user):
    client = get_async_redis("state")
    key = make_key("deploy", "async")
    await client.set(key, b"1", ex=60)
    assert await client.get(key) == b"1"
    await client.aclose()

    url = f"redis://winkr:{APP_PASSWORD}@127.0.0.1:{as_app_user.port}/0"  # as the settings' CHANNEL_LAYERS gets it
    layer = RedisPubSubChannelLayer(hosts=[url])
    try:
        channel = await layer.new_channel()
        await layer.group_add("deploy", channel)
        await layer.group_send("deploy", {"type": "chat.message", "text": "hi"})
        assert (await layer.receive(channel))["text"] == "hi"
    finally:
        await layer.flush()


@pytest.mark.parametrize("command", [
    ("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"),
    ("CONFIG", "GET", "requirepass"), ("KEYS", "*"), ("SHUTDOWN",),
    ("SCRIPT", "FLUSH"), ("FUNCTION", "FLUSH"), ("ACL", "LIST"), ("CLIENT", "KILL", "ID", "1"),
    ("REPLICAOF", "127.0.0.1", "1"), ("MONITOR",),
])
def test_dangerous_commands_are_refused(as_app_user, command):
    with pytest.raises(NoPermissionError):
        get_redis("state").execute_command(*command)


def test_debug_is_refused_by_the_acl_itself(acl_server):
    """The server already refuses DEBUG by configuration; ACL DRYRUN shows the user could not run it anyway."""
    admin = redis.Redis(port=acl_server.port, password=ADMIN_PASSWORD, decode_responses=True)
    verdict = admin.execute_command("ACL", "DRYRUN", "winkr", "DEBUG", "SLEEP", "0")
    assert "no permissions to run the 'debug' command" in verdict
    assert admin.execute_command("ACL", "DRYRUN", "winkr", "GET", "winkr:x") == "OK"


def test_keys_and_channels_outside_the_prefix_are_refused(as_app_user):
    client = get_redis("state")
    with pytest.raises(NoPermissionError):
        client.set("other-app:secret", b"x")
    with pytest.raises(NoPermissionError):
        client.publish("other-app:events", b"x")


def test_cache_clear_cannot_wipe_the_shared_server(as_app_user, acl_server):
    """django-redis clear() is FLUSHDB: refused, so the state sharing the server survives (errors are ignored)."""
    get_redis("state").set(make_key("session", "abc"), b"kept")
    caches["default"].clear()
    assert redis.Redis(port=acl_server.port, password=ADMIN_PASSWORD).get(make_key("session", "abc")) == b"kept"


def test_compose_redis_command_starts_a_real_server_with_the_acl(tmp_path):
    """Run docker-compose.yml's Redis command line through sh (as the container does) against a real binary."""
    binary = RedisServerProcess(tmp_path).binary
    (line,) = [c for c in df.compose_project()["services"]["redis"]["command"] if "redis-server" in c]
    port = free_port()
    line = (line.replace("$$", "$").replace("/usr/local/etc/redis/redis-acl.conf", str(df.ACL_FILE))
            .replace("exec redis-server", f"exec {binary}")
            + f" --port {port} --bind 127.0.0.1 --dir {tmp_path} --save '' --logfile {tmp_path / 'log'}")
    env = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": APP_PASSWORD, "REDIS_ADMIN_PASSWORD": ADMIN_PASSWORD}
    process = subprocess.Popen([shutil.which("sh"), "-c", line], env=env, cwd=tmp_path)
    try:
        app = redis.Redis(port=port, username="winkr", password=APP_PASSWORD, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert app.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        assert app.set("winkr:deploy", b"1") and app.get("winkr:deploy") == b"1"
        with pytest.raises(NoPermissionError):
            app.flushall()
        admin = redis.Redis(port=port, password=ADMIN_PASSWORD)
        assert admin.config_get("appendonly") == {"appendonly": "yes"}
        assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert "~winkr:*" in str(admin.acl_getuser("winkr")["keys"])
    finally:
        process.terminate()
        process.wait(timeout=10)
