"""Run one operation's Redis steps with a sync or an async client, written once.

Service operations are generators that yield :class:`Eval`, :class:`Call` or :class:`Pipe`
steps and receive each step's reply; :func:`run` and :func:`arun` drive them. The logic
(keys, order, parsing) exists once and both ``create_session`` and ``acreate_session`` use
it, without wrapping sync code in threads. Written here because redis-py has no such layer.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import scripts


@dataclass(frozen=True)
class Eval:
    """Run the Lua script ``name`` (from ``lua/``) with these keys and arguments."""

    name: str
    keys: Sequence[str]
    args: Sequence[Any] = ()


@dataclass(frozen=True)
class Call:
    """One Redis command, by its redis-py method name."""

    method: str
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipe:
    """Several commands in one round trip; ``transaction`` wraps them in MULTI/EXEC."""

    calls: Sequence[Call]
    transaction: bool = False


Op = Generator[Eval | Call | Pipe, Any, Any]


def _sync_step(client: Any, step: Eval | Call | Pipe) -> Any:
    if isinstance(step, Eval):
        return scripts.script(client, step.name)(keys=list(step.keys), args=list(step.args))
    if isinstance(step, Call):
        return getattr(client, step.method)(*step.args, **step.kwargs)
    if not step.calls:
        return []
    pipe = client.pipeline(transaction=step.transaction)
    for call in step.calls:
        getattr(pipe, call.method)(*call.args, **call.kwargs)
    return pipe.execute()


async def _async_step(client: Any, step: Eval | Call | Pipe) -> Any:
    if isinstance(step, Eval):
        return await scripts.script(client, step.name)(keys=list(step.keys), args=list(step.args))
    if isinstance(step, Call):
        return await getattr(client, step.method)(*step.args, **step.kwargs)
    if not step.calls:
        return []
    pipe = client.pipeline(transaction=step.transaction)
    for call in step.calls:
        getattr(pipe, call.method)(*call.args, **call.kwargs)
    return await pipe.execute()


def run(op: Op, client: Any) -> Any:
    """Drive ``op`` to completion with a sync client and return its result."""
    try:
        step = next(op)
        while True:
            step = op.send(_sync_step(client, step))
    except StopIteration as stop:
        return stop.value


async def arun(op: Op, client: Any) -> Any:
    """Drive ``op`` to completion with a ``redis.asyncio`` client and return its result."""
    try:
        step = next(op)
        while True:
            step = op.send(await _async_step(client, step))
    except StopIteration as stop:
        return stop.value
