"""Sync and async twins written once: an operation is a generator of Redis steps, two drivers run it.

An operation yields steps (:class:`Call`, :class:`Eval`, :class:`Pipe`, :class:`Lock`, :class:`Sleep`,
:class:`Invoke`, :class:`Twin`, :class:`Together`) and receives each step's reply; :func:`run` drives
it with a sync client, :func:`arun` with a ``redis.asyncio`` one. Keys, order, parsing and error
handling exist once, and both ``get_or_set`` and ``aget_or_set`` (say) use them without wrapping sync
code in threads. A step that raises is thrown back into the operation at its ``yield``, so ``try``/
``except``/``finally`` in an operation work as in plain code. Written here because redis-py has
no such layer: its sync and async clients share command builders, not call sites.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster


class ScriptRegistry(Protocol):
    """What :class:`Eval` needs of a script registry (``caching_app.foundation.scripts.LuaScripts``)."""

    def get(self, client: Any, name: str) -> Any: ...


@dataclass(frozen=True)
class Eval:
    """Run the Lua script ``name`` of ``scripts`` with these keys and arguments (EVALSHA, NOSCRIPT reload)."""

    scripts: ScriptRegistry
    name: str
    keys: Sequence[str]
    args: Sequence[Any] = ()


@dataclass(frozen=True)
class Call:
    """One Redis command by its redis-py method name; with ``on``, a method of that object (a lock)."""

    method: str
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    on: Any = None


@dataclass(frozen=True)
class Pipe:
    """Several commands in one round trip; ``transaction`` wraps them in MULTI/EXEC. With
    ``raise_on_error=False`` a failed command's reply is its exception (redis-py's own flag)."""

    calls: Sequence[Call]
    transaction: bool = False
    raise_on_error: bool = True


@dataclass(frozen=True)
class Lock:
    """A redis-py lock on ``key`` (not yet acquired): ``Call("acquire", on=lock)`` takes it."""

    key: str
    timeout: float
    blocking: bool = False


@dataclass(frozen=True)
class Sleep:
    """Wait without holding the thread (async) or the connection (both)."""

    seconds: float


@dataclass(frozen=True)
class Invoke:
    """Call a caller's function: the sync driver calls it, the async one awaits what it returns."""

    function: Callable[[], Any]


@dataclass(frozen=True)
class Twin:
    """Call a sync/async pair of functions with the same arguments (``check_chat_rate`` /
    ``acheck_chat_rate``, say): the sync driver calls ``sync``, the async one awaits ``asynchronous``.

    For logic that already exists as a twin elsewhere (another app's limiter, the channel layer), so an
    operation reuses it instead of wrapping one side in a thread.
    """

    sync: Callable[..., Any]
    asynchronous: Callable[..., Awaitable[Any]]
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Together:
    """Several independent steps at once: concurrently in async (``asyncio.gather``), one after the other
    in sync. The reply is the list of their replies, in order. Every step runs even if one fails; then
    the first failure is thrown into the operation.

    For work on different Redis nodes or slots (a Cluster pipeline cannot hold two hash tags' scripts):
    in flight together, the async caller waits for the slowest, not for the sum.
    """

    steps: Sequence[Step]


Step = Eval | Call | Pipe | Lock | Sleep | Invoke | Twin | Together
Op = Generator[Step, Any, Any]
Client = Any  # a redis-py client, sync or asyncio, standalone or Cluster
ClientSource = Client | Callable[[], Client]


def _client(source: ClientSource) -> Client:
    # A function is called at the first step, so that failing to build a client (an unreachable
    # Cluster connects at construction) reaches the operation's own error handling.
    return source() if callable(source) else source


def _needs_client(step: Step) -> bool:
    if isinstance(step, Together):
        return any(_needs_client(inner) for inner in step.steps)
    return not isinstance(step, Sleep | Invoke | Twin)


def _first_failure(replies: list[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, BaseException):
            raise reply
    return replies


def _pipeline(client: Client, step: Pipe) -> Any:
    pipe = client.pipeline(transaction=step.transaction)
    for call in step.calls:
        getattr(pipe, call.method)(*call.args, **call.kwargs)
    return pipe


def _sync_step(client: Client, step: Step) -> Any:
    if isinstance(step, Call):
        return getattr(step.on if step.on is not None else client, step.method)(*step.args, **step.kwargs)
    if isinstance(step, Eval):
        return step.scripts.get(client, step.name)(keys=list(step.keys), args=list(step.args))
    if isinstance(step, Pipe):
        return _pipeline(client, step).execute(raise_on_error=step.raise_on_error) if step.calls else []
    if isinstance(step, Lock):
        return client.lock(step.key, timeout=step.timeout, blocking=step.blocking)
    if isinstance(step, Sleep):
        return time.sleep(step.seconds)
    if isinstance(step, Twin):
        return step.sync(*step.args, **step.kwargs)
    if isinstance(step, Together):
        replies: list[Any] = []
        for inner in step.steps:
            try:
                replies.append(_sync_step(client, inner))
            except Exception as exc:  # noqa: BLE001 - raised below, after the other steps ran
                replies.append(exc)
        return _first_failure(replies)
    return step.function()


async def _async_step(client: Client, step: Step) -> Any:
    if isinstance(step, Call):
        return await getattr(step.on if step.on is not None else client, step.method)(*step.args, **step.kwargs)
    if isinstance(step, Eval):
        return await step.scripts.get(client, step.name)(keys=list(step.keys), args=list(step.args))
    if isinstance(step, Pipe):
        if not step.calls:
            return []
        if step.transaction and isinstance(client, AsyncRedisCluster):
            # redis-py 8.1's async cluster transaction pipeline queues each command through asyncio.run() in a
            # thread of its own, which initializes a client not yet initialized there: its connections would
            # belong to that thread's loop, closed right after ("Event loop is closed" on the next use).
            await client.initialize()
        return await _pipeline(client, step).execute(raise_on_error=step.raise_on_error)
    if isinstance(step, Lock):
        return client.lock(step.key, timeout=step.timeout, blocking=step.blocking)
    if isinstance(step, Sleep):
        return await asyncio.sleep(step.seconds)
    if isinstance(step, Twin):
        return await step.asynchronous(*step.args, **step.kwargs)
    if isinstance(step, Together):
        return _first_failure(list(await asyncio.gather(*(_async_step(client, inner) for inner in step.steps),
                                                        return_exceptions=True)))
    result = step.function()
    return (await result) if isinstance(result, Awaitable) else result


def run(op: Op, client: ClientSource) -> Any:
    """Drive ``op`` to completion with a sync client (or a function returning one); return its result."""
    try:
        step = next(op)
        connected: Client | None = None
        while True:
            try:
                if connected is None and _needs_client(step):
                    connected = _client(client)
                reply = _sync_step(connected, step)
            except Exception as exc:  # noqa: BLE001 - handed to the operation, which re-raises what it does not handle
                step = op.throw(exc)
            else:
                step = op.send(reply)
    except StopIteration as stop:
        return stop.value


async def arun(op: Op, client: ClientSource) -> Any:
    """Drive ``op`` to completion with a ``redis.asyncio`` client (or a function returning one)."""
    try:
        step = next(op)
        connected: Client | None = None
        while True:
            try:
                if connected is None and _needs_client(step):
                    connected = _client(client)
                reply = await _async_step(connected, step)
            except Exception as exc:  # noqa: BLE001 - handed to the operation, which re-raises what it does not handle
                step = op.throw(exc)
            else:
                step = op.send(reply)
    except StopIteration as stop:
        return stop.value
