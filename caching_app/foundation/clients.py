"""Redis client classes that report every command to :mod:`caching_app.foundation.instrumentation`.

Subclasses rather than wrappers so that django-redis, channels code and our own code
all receive real redis-py clients with the full command API.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable, Iterator
from time import perf_counter
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.client import Pipeline as AsyncPipeline
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.client import Pipeline
from redis.cluster import ClusterPipeline, RedisCluster
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import HIREDIS_AVAILABLE

try:  # redis-py 8.2+: what a command raises while the last slot-map refresh reached no node
    from redis.exceptions import RedisClusterUnreachableError
except ImportError:  # redis-py 8.1 has no such error

    class RedisClusterUnreachableError(RedisClusterException):  # type: ignore[no-redef]
        """Never raised by this redis-py: the conversions below then match nothing."""

if HIREDIS_AVAILABLE:
    import hiredis

from .instrumentation import command_name, record


class _SyncInstrumented:
    winkr_alias = "default"

    def execute_command(self, *args: Any, **options: Any) -> Any:
        start = perf_counter()
        try:
            result = super().execute_command(*args, **options)  # type: ignore[misc]  # the client class after us
        except Exception as exc:
            record(self.winkr_alias, command_name(args), perf_counter() - start, exc)
            raise
        record(self.winkr_alias, command_name(args), perf_counter() - start)
        return result


class _SyncPipelineInstrumented:
    winkr_alias = "default"

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        name = "MULTI" if getattr(self, "transaction", False) else "PIPELINE"
        start = perf_counter()
        try:
            result = super().execute(*args, **kwargs)  # type: ignore[misc]  # the pipeline class after us
        except Exception as exc:
            record(self.winkr_alias, name, perf_counter() - start, exc)
            raise
        record(self.winkr_alias, name, perf_counter() - start)
        return result


class _AsyncInstrumented:
    winkr_alias = "default"

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        start = perf_counter()
        try:
            result = await super().execute_command(*args, **options)  # type: ignore[misc]  # as above
        except Exception as exc:
            record(self.winkr_alias, command_name(args), perf_counter() - start, exc)
            raise
        record(self.winkr_alias, command_name(args), perf_counter() - start)
        return result


class _AsyncPipelineInstrumented:
    winkr_alias = "default"

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        name = "MULTI" if getattr(self, "is_transaction", False) else "PIPELINE"
        start = perf_counter()
        try:
            result = await super().execute(*args, **kwargs)  # type: ignore[misc]  # as above
        except Exception as exc:
            record(self.winkr_alias, name, perf_counter() - start, exc)
            raise
        record(self.winkr_alias, name, perf_counter() - start)
        return result


class _PlainAsyncPipeline(AsyncPipeline):
    """redis.asyncio's pipeline, with a shorter ``execute`` for a plain (non-transaction) batch.

    redis-py 8.1's ``Pipeline.execute`` wraps every batch in its OpenTelemetry recording hooks and HIMPORT
    field-set preparation, neither of which winkr uses (command metrics come from :mod:`.instrumentation`):
    about a quarter of the CPU of the three-command batch of an authenticated, cached GET (102-113 against
    133-153 µs in a micro-benchmark, issue 15). A batch with nothing of those (no MULTI, WATCH, registered
    scripts or HIMPORT command) is sent here with redis-py's own pieces: the pool, the connection's packing,
    parsing, response callbacks and retry policy (a connection error disconnects, backs off and tries
    again), and the same replies, errors included, as ``Pipeline.execute``. Anything else goes to
    redis-py's method.
    """

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack = self.command_stack
        if (self.is_transaction or self.explicit_transaction or self.watching or self.scripts
                or self.connection is not None or not stack or any(_is_himport(args) for args, _ in stack)):
            return await super().execute(raise_on_error)
        pool = self.connection_pool
        connection = await pool.get_connection()

        async def send_and_read() -> list[Any]:
            packed = connection.pack_commands([args for args, _ in stack])
            if isinstance(connection, _SendWithoutTask):  # winkr's connections: one deadline for the batch
                return await connection.send_batch(packed, lambda: self._read_replies(connection, stack))
            await connection.send_packed_command(packed)
            return await self._read_replies(connection, stack)

        async def disconnect(error: Exception) -> None:
            await connection.disconnect(error=error)

        try:
            replies = await connection.retry.call_with_retry(send_and_read, disconnect)
        finally:
            self.command_stack = []
            await pool.release(connection)
        if raise_on_error:
            self.raise_first_error(stack, replies)
        return replies

    async def _read_replies(self, connection: Any, stack: list[Any]) -> list[Any]:
        """Every reply of the batch, each through redis-py's parsing and callbacks; error replies in place."""
        replies: list[Any] = []
        for args, options in stack:
            try:
                replies.append(await self.parse_response(connection, args[0], **options))
            except ResponseError as exc:
                replies.append(exc)
        return replies


class AsyncBlockingConnectionPool(redis.asyncio.BlockingConnectionPool):
    """redis.asyncio's bounded pool, taking a free connection without its wait machinery.

    ``BlockingConnectionPool.get_connection`` (redis-py 8.1) enters its condition and an ``asyncio.timeout``
    and awaits ``wait_for`` on every call, also when a connection is free and the condition's lock is free,
    where all of that returns at once: about 15 µs of the event loop's CPU per round trip. In exactly that
    case (and outside a maintenance event) the same steps run directly: take the connection, then
    ``ensure_connection``, which checks and reconnects it, outside any lock as redis-py does. Otherwise
    redis-py's own method runs, so the bound (``max_connections``), the wait, its order and its timeout are
    redis-py's. (Its OpenTelemetry wait-time histogram is not fed by the direct path; winkr does not use it.)
    """

    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        # redis-py 8.1's maintenance flag is private: were it gone, every call would take redis-py's path.
        if self._condition.locked() or getattr(self, "_in_maintenance", True) or not self.can_get_connection():
            return await super().get_connection()
        connection = self.get_available_connection()
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def ensure_connection(self, connection: Any) -> None:
        """redis-py's check, without its connect step for a connection that is connected and has nothing
        unread (where that step returns at once, through the retry policy: a few µs per checkout)."""
        try:
            if connection.is_connected and not await connection.can_read():
                return
        except (RedisConnectionError, RedisTimeoutError, OSError):
            pass  # redis-py's own steps below reconnect it
        await super().ensure_connection(connection)


def _is_himport(args: tuple[Any, ...]) -> bool:
    name = args[0] if args else b""
    return (name.decode(errors="replace") if isinstance(name, bytes) else str(name)).upper().startswith("HIMPORT")


class InstrumentedPipeline(_SyncPipelineInstrumented, Pipeline):
    pass


class InstrumentedRedis(_SyncInstrumented, redis.Redis):
    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> InstrumentedPipeline:
        pipe = InstrumentedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.winkr_alias = self.winkr_alias
        return pipe


@contextlib.contextmanager
def _reachable_or_connection_error(alias: str) -> Iterator[None]:
    """Turn redis-py's "no node answers" into the ConnectionError every outage boundary catches."""
    try:
        yield
    except RedisClusterUnreachableError as exc:
        raise unreachable_cluster(alias, exc) from exc


class InstrumentedRedisCluster(_SyncInstrumented, RedisCluster):
    def execute_command(self, *args: Any, **options: Any) -> Any:
        with _reachable_or_connection_error(self.winkr_alias):
            return super().execute_command(*args, **options)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        # ClusterPipeline routes every queued command through its own machinery; it is
        # counted as one PIPELINE by wrapping execute on the instance.
        original = pipe.execute
        alias = self.winkr_alias

        def execute(*args: Any, **kwargs: Any) -> Any:
            start = perf_counter()
            try:
                with _reachable_or_connection_error(alias):
                    result = original(*args, **kwargs)
            except Exception as exc:
                record(alias, "PIPELINE", perf_counter() - start, exc)
                raise
            record(alias, "PIPELINE", perf_counter() - start)
            return result

        pipe.execute = execute
        return pipe


# redis-py's own asyncio classes combine two command_info signatures (theirs, not ours)
class InstrumentedAsyncPipeline(_AsyncPipelineInstrumented, _PlainAsyncPipeline):  # type: ignore[misc]
    pass


# redis-py's own asyncio classes combine two command_info signatures (theirs, not ours)
class InstrumentedAsyncRedis(_AsyncInstrumented, redis.asyncio.Redis):  # type: ignore[misc]
    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> InstrumentedAsyncPipeline:
        pipe = InstrumentedAsyncPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.winkr_alias = self.winkr_alias
        return pipe


# redis-py's own asyncio classes combine two command_info signatures (theirs, not ours)
class InstrumentedAsyncRedisCluster(_AsyncInstrumented, AsyncRedisCluster):  # type: ignore[misc]
    async def initialize(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise unreachable_cluster(self.winkr_alias, exc) from exc

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        with _reachable_or_connection_error(self.winkr_alias):
            return await super().execute_command(*args, **options)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        original = pipe.execute
        alias = self.winkr_alias

        async def execute(*args: Any, **kwargs: Any) -> Any:
            with _reachable_or_connection_error(alias):
                return await original(*args, **kwargs)

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe


def unreachable_cluster(alias: str, exc: RedisClusterException) -> RedisConnectionError:
    """redis-py reports "no node answers" as RedisClusterException (at the first connect) or its subclass
    RedisClusterUnreachableError (a command while the last slot-map refresh reached no node), neither of which
    is a RedisError: every boundary that turns Redis outages into 503s or fail-open catches RedisError only."""
    return RedisConnectionError(f"Redis Cluster of alias {alias!r} cannot be reached: {exc}")


class _HiredisPacking:
    """Commands packed by hiredis' C packer, as redis-py's sync connections already do.

    redis.asyncio's connections pack every command in Python (redis-py 8.1: ``AbstractConnection.pack_command``),
    which was about a tenth of an authenticated cached GET's Redis CPU on the event loop in a py-spy profile.
    redis-py's own ``HiredisRespSerializer`` packs the same bytes, with the same errors (``DataError``).
    """

    _packer = HiredisRespSerializer() if HIREDIS_AVAILABLE else None

    def pack_command(self, *args: Any) -> list[bytes]:
        if self._packer is None:
            return super().pack_command(*args)  # type: ignore[misc]  # the connection class after us
        name = args[0] if args else None
        # A one-word command name (redis-py splits "CONFIG GET") and arguments hiredis takes as they are (str,
        # bytes, memoryview, int, float): hiredis directly, without redis-py's per-argument conversion pass.
        if isinstance(name, str | bytes) and name.isalpha():
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass  # a bytearray, None, ...: redis-py's packer converts it or names the error
        return self._packer.pack(*args)


class _SendWithoutTask:
    """A command written under ``asyncio.timeout`` rather than ``asyncio.wait_for``, and a pipeline batch
    under one deadline.

    redis.asyncio's ``send_packed_command`` (redis-py 8.1) writes through ``asyncio.wait_for``, which on
    Python 3.11 runs the write in a new Task: one more event-loop pass and a task per command, for a write
    that almost never waits (``drain`` returns at once below the transport's high-water mark). The same
    steps, the same timeout (``socket_timeout``) and the same errors, without the task. Written here
    because redis-py has no option for it; Python 3.12's ``wait_for`` is itself built on ``timeout``.

    :meth:`send_batch` (the plain pipeline's round trip) writes and reads every reply inside one
    ``asyncio.timeout``, where redis-py enters a new one per write and per reply: four for the
    three-command batch of an authenticated GET. Each read moves that one deadline to ``socket_timeout``
    from its start (:meth:`read_response`) unless less than :data:`DEADLINE_SLACK` of it has passed, so
    every read has redis-py's own deadline within 1 %, and a small batch arms one timer; the errors
    are redis-py's (``TimeoutError`` naming the write or the read, ``ConnectionError``, and a disconnect
    on anything else).
    """

    _batch_deadline: asyncio.Timeout | None = None

    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        await self._ready_to_write(check_health)
        try:
            async with asyncio.timeout(self._deadline()):
                await self._write(command)
        except TimeoutError:  # asyncio.TimeoutError is the builtin since 3.11
            await self._disconnect_now()
            raise RedisTimeoutError(WRITE_TIMEOUT) from None

    async def send_batch(self, command: Iterable[bytes], read: Any) -> Any:
        """Write ``command`` and return ``await read()``, both within one ``socket_timeout``."""
        connection: Any = self
        await self._ready_to_write(True)
        written = False
        try:
            async with asyncio.timeout(self._deadline()) as deadline:
                await self._write(command)
                written = True
                self._batch_deadline = deadline
                try:
                    return await read()
                finally:
                    self._batch_deadline = None
        except TimeoutError:
            await self._disconnect_now()
            raise RedisTimeoutError(f"Timeout reading from {connection._host_error()}" if written
                                    else WRITE_TIMEOUT) from None

    async def read_response(self, disable_decoding: bool = False, timeout: float | None = None, **kwargs: Any  # noqa: ASYNC109 - redis-py's signature
                            ) -> Any:
        deadline = self._batch_deadline
        if timeout is None and deadline is not None:
            seconds = self._deadline()
            if seconds is not None:  # this read's own deadline, as redis-py gives each read
                moved_to = asyncio.get_running_loop().time() + seconds
                when = deadline.when()
                # Moved only when it is older than the slack: the replies of a small batch come together, so
                # their reads share the write's timer instead of re-arming one each.
                if when is None or moved_to - when > seconds * DEADLINE_SLACK:
                    deadline.reschedule(moved_to)
            timeout = math.inf  # redis-py's "no timeout of its own": the batch's covers this read
        return await super().read_response(disable_decoding, timeout, **kwargs)  # type: ignore[misc]

    def _deadline(self) -> float | None:
        return self.socket_timeout or None  # type: ignore[attr-defined]  # redis.asyncio's AbstractConnection

    async def _ready_to_write(self, check_health: bool) -> None:
        connection: Any = self  # redis.asyncio's AbstractConnection, after us in the MRO
        if not connection.is_connected:
            await connection.connect_check_health(check_health=False)
        if check_health:
            await connection.check_health()

    async def _disconnect_now(self) -> None:
        await self.disconnect(nowait=True)  # type: ignore[attr-defined]

    async def _write(self, command: bytes | str | Iterable[bytes]) -> None:
        """Write without a deadline of its own; a failed write leaves the connection closed, as in redis-py."""
        connection: Any = self
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        try:
            connection._writer.writelines(command)
            await connection._writer.drain()
        except TimeoutError:
            await self._disconnect_now()
            raise RedisTimeoutError(WRITE_TIMEOUT) from None
        except OSError as exc:
            await self._disconnect_now()
            number, message = exc.args[:2] if len(exc.args) >= 2 else ("UNKNOWN", exc.args[0] if exc.args else exc)
            msg = f"Error {number} while writing to socket. {message}."
            raise RedisConnectionError(msg) from exc
        except BaseException:  # as redis-py: a half-sent command leaves the connection unusable
            await self._disconnect_now()
            raise


WRITE_TIMEOUT = "Timeout writing to socket"
#: How much of ``socket_timeout`` a read inside a batch may find already used (a fraction): its deadline is at
#: most this much shorter than redis-py's own per-read deadline.
DEADLINE_SLACK = 0.01


class AsyncConnection(_SendWithoutTask, _HiredisPacking, redis.asyncio.Connection):
    pass


class AsyncSSLConnection(_SendWithoutTask, _HiredisPacking, redis.asyncio.SSLConnection):
    pass


class AsyncUnixDomainSocketConnection(_SendWithoutTask, _HiredisPacking, redis.asyncio.UnixDomainSocketConnection):
    pass
