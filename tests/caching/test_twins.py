"""The twin driver (caching_app.foundation.twins): the Twin and Together steps and Pipe's raise_on_error,
driven by run and arun against the suite's real redis-server."""

import asyncio
from collections.abc import Generator

import pytest
from redis.exceptions import ResponseError

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.twins import Call, Pipe, Together, Twin, arun, run


def sync_double(value, *, plus=0):
    return ("sync", value * 2 + plus)


async def async_double(value, *, plus=0):
    await asyncio.sleep(0)
    return ("async", value * 2 + plus)


def twin_op():
    reply = yield Twin(sync_double, async_double, (20,), {"plus": 2})
    return reply


def test_twin_calls_the_sync_function_in_run():
    assert run(twin_op(), get_redis("cache")) == ("sync", 42)


async def test_twin_awaits_the_async_function_in_arun():
    assert await arun(twin_op(), get_async_redis("cache")) == ("async", 42)


def test_steps_without_redis_never_build_a_client():
    def unreachable():
        msg = "no step of this operation needs a client"
        raise AssertionError(msg)

    def op():
        first = yield Twin(sync_double, async_double, (1,))
        both = yield Together((Twin(sync_double, async_double, (2,)), Twin(sync_double, async_double, (3,))))
        return first, both

    assert run(op(), unreachable) == (("sync", 2), [("sync", 4), ("sync", 6)])


async def test_together_runs_its_steps_concurrently_in_arun():
    # The BLPOP can only return once the RPUSH has run: sequentially it would wait out its whole timeout.
    def op():
        popped, pushed = yield Together((Call("blpop", (["twins:q"], 30)), Call("rpush", ("twins:q", "v"))))
        return popped, pushed

    popped, pushed = await asyncio.wait_for(arun(op(), get_async_redis("cache")), timeout=20)
    assert popped == [b"twins:q", b"v"] or popped == (b"twins:q", b"v")
    assert pushed == 1


def test_together_runs_its_steps_in_order_in_run():
    def op():
        return (yield Together((Call("set", ("twins:k", "1")), Call("incr", ("twins:k",)), Call("get", ("twins:k",)))))

    assert run(op(), get_redis("cache")) == [True, 2, b"2"]


def failing_together_op(log):
    try:
        yield Together((Call("incr", ("twins:text",)), Call("set", ("twins:after", "ran"))))
    except ResponseError as exc:
        log.append(exc)
        return "handled"
    return "not raised"


@pytest.mark.parametrize("driver", ["sync", "async"])
async def test_a_failing_step_of_together_is_thrown_into_the_op_after_the_others_ran(driver):
    get_redis("cache").set("twins:text", "not a number")
    log: list = []
    if driver == "sync":
        result = run(failing_together_op(log), get_redis("cache"))
    else:
        result = await arun(failing_together_op(log), get_async_redis("cache"))
    assert result == "handled"
    assert isinstance(log[0], ResponseError)
    assert get_redis("cache").get("twins:after") == b"ran"


def pipe_op():
    replies = yield Pipe((Call("incr", ("twins:text",)), Call("get", ("twins:text",))), raise_on_error=False)
    return replies


@pytest.mark.parametrize("driver", ["sync", "async"])
async def test_pipe_without_raise_on_error_returns_the_failure_as_a_reply(driver):
    get_redis("cache").set("twins:text", "not a number")
    if driver == "sync":
        failed, value = run(pipe_op(), get_redis("cache"))
    else:
        failed, value = await arun(pipe_op(), get_async_redis("cache"))
    assert isinstance(failed, ResponseError)
    assert value == b"not a number"


def _tagged_transaction() -> Generator:
    return (yield Pipe((Call("set", ("{twins}a", 1)), Call("incr", ("{twins}a",)), Call("get", ("{twins}a",))),
                       transaction=True))


@pytest.mark.cluster
async def test_a_cluster_transaction_as_a_clients_first_use_keeps_its_connections_on_this_loop(
        redis_cluster, use_redis):
    """redis-py's async cluster transaction pipeline queues commands through asyncio.run() in a thread: a client
    first used there got connections of that thread's closed loop, and closing it raised "Event loop is closed"."""
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    client = get_async_redis("state")
    assert await arun(_tagged_transaction(), client) == [True, 2, b"2"]
    assert await client.get("{twins}a") == b"2"
    loop = asyncio.get_running_loop()
    transports = [connection._writer.transport for node in client.get_nodes() for connection in node._connections
                  if connection.is_connected]
    assert transports and all(transport._loop is loop for transport in transports)
    await client.aclose()  # raised RuntimeError("Event loop is closed") before
    redis_cluster.flush()
