"""The connection layer against real servers: standalone, cluster, restart, TLS, ACL."""

from __future__ import annotations

import asyncio
import shutil
import ssl

import pytest
import redis
from django.core.cache import cache

from caching_app.devservers.redis_servers import supports_tls
from caching_app.foundation.connections import get_async_redis, get_redis, redis_connections
from caching_app.foundation.instrumentation import COMMANDS
from caching_app.foundation.keys import make_key


def test_both_aliases_set_and_get():
    get_redis("state").set("k", "v")
    assert get_redis("state").get("k") == b"v"
    get_redis("cache").set("c", "1")
    assert get_redis("cache").get("c") == b"1"


async def test_async_client_per_event_loop():
    client = get_async_redis("state")
    await client.set("async-key", "x")
    assert await client.get("async-key") == b"x"
    assert get_async_redis("state") is client


def test_async_clients_are_not_shared_between_loops():
    async def fetch():
        client = get_async_redis("state")
        await client.ping()
        return client

    first = asyncio.run(fetch())
    second = asyncio.run(fetch())
    assert first is not second


async def test_a_reset_or_closing_the_loops_clients_gives_new_clients_on_the_same_loop():
    first = get_async_redis("state")
    assert get_async_redis("state") is first  # the same loop asks again: the remembered clients
    await redis_connections.aclose_loop_clients()
    second = get_async_redis("state")
    assert second is not first
    await second.ping()
    redis_connections.reset()
    third = get_async_redis("state")
    assert third is not second and get_async_redis("state") is third
    await third.ping()
    await redis_connections.aclose_loop_clients()


def test_django_cache_uses_the_connection_layer():
    cache.set("profile", {"name": "ada"}, 30)
    assert cache.get("profile") == {"name": "ada"}
    raw_keys = get_redis("cache").keys("*profile*")
    assert raw_keys, "django-redis wrote through our 'cache' alias"
    assert get_redis("cache").ttl(raw_keys[0]) > 0


def test_commands_are_counted():
    before = COMMANDS.labels("state", "SET")._value.get()
    get_redis("state").set("counted", 1)
    get_redis("state").set("counted", 2)
    assert COMMANDS.labels("state", "SET")._value.get() == before + 2


def test_pipeline_counted_as_one_round_trip():
    before = COMMANDS.labels("state", "MULTI")._value.get()
    with get_redis("state").pipeline() as pipe:
        pipe.set("a", 1).incr("a").get("a")
        assert pipe.execute() == [True, 2, b"2"]
    assert COMMANDS.labels("state", "MULTI")._value.get() == before + 1


@pytest.mark.cluster
def test_cluster_set_get_and_tagged_multikey(redis_cluster, use_redis):
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    client = get_redis("state")
    assert isinstance(client, redis.RedisCluster)
    for index in range(20):
        client.set(f"plain-{index}", index)
    assert [int(client.get(f"plain-{i}")) for i in range(20)] == list(range(20))
    first, second = make_key("test", "a", tag="user-42"), make_key("test", "b", tag="user-42")
    client.mset({first: 1, second: 2})
    assert client.mget([first, second]) == [b"1", b"2"]
    redis_cluster.flush()


@pytest.mark.cluster
async def test_async_cluster(redis_cluster, use_redis):
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    client = get_async_redis("state")
    await client.set("async-cluster", "ok")
    assert await client.get("async-cluster") == b"ok"
    await client.aclose()
    redis_cluster.flush()


def test_reconnects_after_server_restart_on_same_port(spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url)
    client = get_redis("state")
    client.set("before", 1)
    server.kill()
    with pytest.raises(redis.ConnectionError):
        client.get("before")
    server.start()
    # Same client object, no reset: the pool reconnects by itself.
    assert client.set("after", 2) is True
    assert redis_connections.get("state") is client


def test_acl_user_with_password(spawn_redis, use_redis):
    server = spawn_redis()
    admin = redis.Redis(port=server.port)
    admin.acl_setuser("winkr-app", enabled=True, passwords=["+s3cret-pass"], keys=["*"], commands=["+@all"])
    admin.acl_setuser("default", enabled=False)
    use_redis(server.url, USERNAME="winkr-app", PASSWORD="s3cret-pass")
    assert get_redis("state").set("acl", 1) is True
    assert get_redis("state").acl_whoami() in ("winkr-app", b"winkr-app")
    use_redis(server.url, USERNAME="winkr-app", PASSWORD="wrong", MAX_RETRIES=0)
    with pytest.raises(redis.AuthenticationError):
        get_redis("state").ping()


def _tls_binary() -> str | None:
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server")):
        if candidate and supports_tls(candidate):
            return candidate
    return None


def test_tls_connection_with_trustme_certificates(spawn_redis, use_redis, tmp_path):
    binary = _tls_binary()
    if binary is None:
        pytest.skip("no redis-server built with TLS here (the embedded wheels' 6.2 has none)")
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    from caching_app.devservers.redis_servers import free_port

    tls_port = free_port()
    spawn_redis("--tls-port", str(tls_port), "--tls-cert-file", str(cert_file),
                "--tls-key-file", str(key_file), "--tls-ca-cert-file", str(ca_file),
                "--tls-auth-clients", "no", binary=binary)
    use_redis(f"rediss://127.0.0.1:{tls_port}/0", SSL_CA_CERTS=str(ca_file))
    client = get_redis("state")
    assert client.set("over-tls", 1) is True
    assert client.get("over-tls") == b"1"
    assert client.connection_pool.connection_class is redis.SSLConnection
    # A client that does not trust the CA is refused.
    use_redis(f"rediss://127.0.0.1:{tls_port}/0", MAX_RETRIES=0)
    untrusting = get_redis("state")
    with pytest.raises((redis.ConnectionError, ssl.SSLError)):
        untrusting.ping()


def _dead_cluster_seed(spawn_redis) -> str:
    """The address of a node that was a real redis-server and is gone (a cluster whose seeds are down)."""
    server = spawn_redis()
    address = f"127.0.0.1:{server.port}"
    server.stop()
    return address


def test_unreachable_cluster_is_a_redis_error(spawn_redis, use_redis):
    # redis-py raises RedisClusterException (not a RedisError) while building a client whose seeds are
    # down: the 503 handler, fail-open throttles and health probes only catch RedisError.
    seed = _dead_cluster_seed(spawn_redis)
    use_redis(f"redis://{seed}/0", MODE="cluster", CLUSTER_NODES=[seed], DIAL_TIMEOUT=0.2, MAX_RETRIES=0)
    with pytest.raises(redis.ConnectionError, match="'state'"):
        get_redis("state")


async def test_unreachable_cluster_is_a_redis_error_async(spawn_redis, use_redis):
    seed = _dead_cluster_seed(spawn_redis)
    use_redis(f"redis://{seed}/0", MODE="cluster", CLUSTER_NODES=[seed], DIAL_TIMEOUT=0.2, MAX_RETRIES=0)
    with pytest.raises(redis.ConnectionError):
        await get_async_redis("state").get("k")


def test_unreachable_cluster_answers_503_not_500(spawn_redis, use_redis, settings):
    from rest_framework.test import APIClient

    seed = _dead_cluster_seed(spawn_redis)
    use_redis(f"redis://{seed}/0", MODE="cluster", CLUSTER_NODES=[seed], DIAL_TIMEOUT=0.2, MAX_RETRIES=0)
    response = APIClient(REMOTE_ADDR="198.51.100.9").get("/api/ratelimit/status/")
    assert response.status_code == 503
    assert response.json()["code"] == "ratelimit_unavailable"


async def test_async_connections_pack_commands_with_hiredis_into_redis_pys_own_bytes():
    """caching_app.foundation.clients.AsyncConnection: hiredis' packer, the same bytes and errors as redis-py's."""
    import redis.asyncio
    from redis.exceptions import DataError

    from caching_app.foundation.clients import AsyncConnection
    from caching_app.foundation.connections import get_async_redis

    client = get_async_redis("state")
    assert client.connection_pool.connection_class is AsyncConnection
    ours, redis_pys = AsyncConnection(), redis.asyncio.Connection()
    commands = [("SET", "k", "välue", 12, 1.5, b"\x00raw"), ("CONFIG GET", "maxmemory"), ("MGET", *map(str, range(50))),
                (b"SET", memoryview(b"k"), bytearray(b"v")), (b"CLIENT SETNAME", "x"),
                ("EVALSHA", "ab" * 20, 2, "a", "b")]
    for args in commands:
        assert b"".join(ours.pack_command(*args)) == b"".join(redis_pys.pack_command(*args))
    with pytest.raises(DataError):
        ours.pack_command("SET", "k", None)
    with pytest.raises(DataError):
        ours.pack_command(b"SET", "k", object())
    assert await client.set("packed", "välue") and await client.get("packed") == "välue".encode()


async def _replies_of(client, raise_on_error: bool, transaction: bool = False) -> list:
    await client.set("pipe:n", 5)
    await client.set("pipe:text", "not a number")
    pipe = client.pipeline(transaction=transaction)
    pipe.mget("pipe:n", "pipe:missing")
    pipe.incr("pipe:text")  # ERR value is not an integer
    pipe.incr("pipe:n")
    pipe.get("pipe:n")
    return await pipe.execute(raise_on_error=raise_on_error)


async def test_plain_async_pipeline_replies_as_redis_pys_own(redis_server):
    """clients._PlainAsyncPipeline: the same replies, errors and error text as redis.asyncio's Pipeline.execute."""
    import redis.asyncio
    from redis.exceptions import ResponseError

    from caching_app.foundation.clients import InstrumentedAsyncPipeline

    ours, redis_pys = get_async_redis("state"), redis.asyncio.Redis.from_url(redis_server.url)
    try:
        assert isinstance(ours.pipeline(transaction=False), InstrumentedAsyncPipeline)
        mine = await _replies_of(ours, raise_on_error=False)
        theirs = await _replies_of(redis_pys, raise_on_error=False)
        assert [type(r) for r in mine] == [list, ResponseError, int, bytes] == [type(r) for r in theirs]
        assert mine[0] == theirs[0] == [b"5", None] and str(mine[1]) == str(theirs[1])
        with pytest.raises(ResponseError) as raised_ours:
            await _replies_of(ours, raise_on_error=True)
        with pytest.raises(ResponseError) as raised_theirs:
            await _replies_of(redis_pys, raise_on_error=True)
        assert str(raised_ours.value) == str(raised_theirs.value)
        assert str(raised_ours.value).startswith("Command # 2 (INCRBY pipe:text 1) of pipeline caused error")
        # A transaction is redis-py's own path (MULTI/EXEC): its errors are unchanged too.
        assert [type(r) for r in await _replies_of(ours, raise_on_error=False, transaction=True)] == \
            [list, ResponseError, int, bytes]
        # Every connection went back to the pool, none is left checked out.
        assert not ours.connection_pool._in_use_connections
    finally:
        await redis_pys.aclose()


async def test_plain_async_pipeline_reconnects_after_its_connection_is_killed(redis_server):
    """A connection killed by the server: the next batch goes out on a new one and gets every reply."""
    client = get_async_redis("state")
    pipe = client.pipeline(transaction=False)
    pipe.client_id()
    (first_id,) = await pipe.execute()
    with redis.Redis.from_url(redis_server.url) as operator:  # as an operator would, outside the code under test
        assert operator.client_kill_filter(_id=first_id) == 1
    pipe = client.pipeline(transaction=False)
    pipe.client_id()
    pipe.set("pipe:after-kill", "ok")
    second_id, stored = await pipe.execute()
    assert second_id != first_id and stored is True
    assert await client.get("pipe:after-kill") == b"ok"


def test_plain_async_pipeline_gives_a_connection_error_when_redis_is_down(spawn_redis, use_redis):
    import redis.exceptions

    server = spawn_redis()
    use_redis(server.url)

    async def batch() -> list:
        pipe = get_async_redis("state").pipeline(transaction=False)
        pipe.set("pipe:down", 1)
        pipe.get("pipe:down")
        return await pipe.execute()

    async def scenario() -> None:
        assert await batch() == [True, b"1"]
        server.kill()
        with pytest.raises(redis.exceptions.ConnectionError):
            await batch()
        assert not get_async_redis("state").connection_pool._in_use_connections
        server.start()
        assert await batch() == [True, b"1"]  # the same client, reconnected by itself
        await redis_connections.aclose_loop_clients()

    asyncio.run(scenario())


async def _write_to_a_stopped_server(cls, server) -> tuple[str, bool]:
    """(what a 64 MB write did, whether the connection is still open) with the server SIGSTOPped."""
    import signal

    connection = cls(host="127.0.0.1", port=server.port, socket_timeout=0.3)
    await connection.connect()
    await connection.send_command("PING")
    assert await connection.read_response() in (b"PONG", "PONG")
    server.process.send_signal(signal.SIGSTOP)
    try:
        await connection.send_command("SET", "big", b"x" * (64 << 20))  # far more than the socket buffers hold
        outcome = "sent"
    except Exception as exc:  # noqa: BLE001 - the outcome is compared, whatever it is
        outcome = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    finally:
        server.process.send_signal(signal.SIGCONT)
    still_open = connection.is_connected
    await connection.disconnect()
    await connection.send_command("PING")  # reconnects by itself
    assert await connection.read_response() in (b"PONG", "PONG")
    await connection.disconnect()
    return outcome, still_open


async def test_a_write_to_a_server_that_stopped_reading_ends_as_with_redis_pys_connection(spawn_redis):
    """clients._SendWithoutTask: the same outcome as redis-py's own connection for a write the server does not
    read (stopped with SIGSTOP, not mocked). On Python 3.11 the write cannot drain and times out; Python
    3.12's asyncio buffered 160 MB without pausing the writer here, for either class, and then both send."""
    import redis.asyncio

    from caching_app.foundation.clients import AsyncConnection

    server = spawn_redis()
    ours = await _write_to_a_stopped_server(AsyncConnection, server)
    theirs = await _write_to_a_stopped_server(redis.asyncio.Connection, server)
    assert ours == theirs
    if ours[0] != "sent":
        assert ours == ("redis.exceptions.TimeoutError: Timeout writing to socket", False)


def _client_with_timeout(url: str, ours: bool, seconds: float):
    """A client on ``url`` whose every socket operation has ``seconds``, with no retries: ours or redis-py's."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from caching_app.foundation.clients import AsyncBlockingConnectionPool, AsyncConnection, InstrumentedAsyncRedis

    if not ours:
        return redis.asyncio.Redis.from_url(url, socket_timeout=seconds, retry=Retry(NoBackoff(), 0))
    pool = AsyncBlockingConnectionPool.from_url(url, connection_class=AsyncConnection, socket_timeout=seconds,
                                                retry=Retry(NoBackoff(), 0))
    return InstrumentedAsyncRedis(connection_pool=pool)


async def _slow_batch(url: str, ours: bool) -> tuple[str, float]:
    """Three blocking pops answered 0.25 s apart, under a 0.4 s socket timeout: what the batch gave, how long."""
    client = _client_with_timeout(url, ours, 0.4)
    try:
        pipe = client.pipeline(transaction=False)
        for index in range(3):
            pipe.blpop([f"batch:empty:{index}"], timeout=0.25)
        started = asyncio.get_running_loop().time()
        replies = await pipe.execute()
        return repr(replies), asyncio.get_running_loop().time() - started
    finally:
        await client.aclose(close_connection_pool=True)


async def test_a_batch_gives_each_reply_its_own_socket_timeout_as_redis_py_does(redis_server):
    """clients._SendWithoutTask.send_batch: one deadline for the batch, moved at every read, so a batch whose
    replies each come within socket_timeout succeeds however long it takes in all (0.75 s here, 0.4 s each)."""
    ours = await _slow_batch(redis_server.url, ours=True)
    theirs = await _slow_batch(redis_server.url, ours=False)
    assert ours[0] == theirs[0] == "[None, None, None]"
    assert ours[1] > 0.7 and theirs[1] > 0.7  # longer than one socket_timeout, as every reply waited 0.25 s


async def _batch_to_a_stopped_server(server, ours: bool) -> tuple[str, bool, int]:
    """(the error of a batch the server never answers, whether the connection stayed open, connections in use)."""
    import signal

    client = _client_with_timeout(server.url, ours, 0.3)
    try:
        assert await client.ping()
        connection = client.connection_pool._available_connections[0]
        server.process.send_signal(signal.SIGSTOP)
        try:
            pipe = client.pipeline(transaction=False)
            pipe.set("batch:stopped", 1)
            pipe.get("batch:stopped")
            await pipe.execute()
            outcome = "answered"
        except Exception as exc:  # noqa: BLE001 - the outcome is compared, whatever it is
            outcome = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        finally:
            server.process.send_signal(signal.SIGCONT)
        in_use = len(client.connection_pool._in_use_connections)
        still_open = connection.is_connected
        assert await client.ping()  # the same client goes on, on a new connection
        return outcome, still_open, in_use
    finally:
        await client.aclose(close_connection_pool=True)


async def test_a_batch_the_server_never_answers_ends_as_with_redis_pys_pipeline(spawn_redis):
    """The same TimeoutError (naming the server), a closed connection and none left checked out, as redis-py."""
    server = spawn_redis()
    ours = await _batch_to_a_stopped_server(server, ours=True)
    theirs = await _batch_to_a_stopped_server(server, ours=False)
    assert ours == theirs == (f"redis.exceptions.TimeoutError: Timeout reading from 127.0.0.1:{server.port}", False, 0)


async def test_the_bounded_async_pool_keeps_its_bound_its_timeout_and_its_waiters_order(redis_server):
    """clients.AsyncBlockingConnectionPool: a free connection is taken directly; with none free, callers
    wait in turn and time out as in redis-py's pool."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from caching_app.foundation.clients import AsyncBlockingConnectionPool, AsyncConnection

    assert type(get_async_redis("state").connection_pool) is AsyncBlockingConnectionPool
    pool = AsyncBlockingConnectionPool(host="127.0.0.1", port=redis_server.port, max_connections=1, timeout=0.5,
                                       connection_class=AsyncConnection)
    try:
        held = await pool.get_connection()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await pool.get_connection()  # the bound holds, and the wait ends at the pool's timeout
        order: list[str] = []

        async def take(name: str) -> None:
            connection = await pool.get_connection()
            order.append(name)
            await asyncio.sleep(0.01)
            await pool.release(connection)

        waiting = [asyncio.create_task(take("first")), asyncio.create_task(take("second"))]
        await asyncio.sleep(0.05)  # both are queued on the pool
        await pool.release(held)
        late = asyncio.create_task(take("late"))  # arrives after the release: served after both waiters
        await asyncio.gather(*waiting, late)
        assert order == ["first", "second", "late"]
        connection = await pool.get_connection()  # nobody waits now: the direct path, a working connection
        await connection.send_command("PING")
        assert await connection.read_response() == b"PONG"
        await pool.release(connection)
        assert len(pool._in_use_connections) == 0 and len(pool._available_connections) == 1
    finally:
        await pool.disconnect()
