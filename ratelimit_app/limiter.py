"""Sliding-window rate limits in Redis: the original design's ``RateLimitConfig``,
``check_rate_limit`` and ``get_rate_limit_status``.

One check is one EVALSHA of a Lua script (``lua/sliding_log.lua`` or
``lua/sliding_window.lua``) that reads Redis server time, counts, decides and records
atomically, whatever the limit; several limits on one key (burst and sustained) are
checked in the same call and a request is counted in all of them or in none.

Errors from Redis (``redis.exceptions.RedisError``) propagate: the fail-open/closed policy
belongs to the caller (see :mod:`ratelimit_app.throttling`).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from caching_app.conf import caching_settings
from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.inputs import bounded_memo
from caching_app.foundation.keys import make_key

from .conf import ALGORITHMS, ratelimit_settings
from .scripts import LUA_SCRIPTS, get_script

KEY_TYPES = ("ip", "user", "custom")
_SHORT_ALGORITHM = {"sliding_log": "log", "sliding_window": "win"}


@dataclass(frozen=True)
class RateLimitConfig:
    """``requests`` per ``window`` seconds on ``endpoint`` (a scope name), per ``key_type`` key."""

    requests: int
    window: int
    endpoint: str = "default"
    key_type: str = "ip"
    algorithm: str = "sliding_log"

    def __post_init__(self) -> None:
        if not isinstance(self.requests, int) or self.requests < 1:
            msg = f"RateLimitConfig.requests must be a positive integer, not {self.requests!r}."
            raise ValueError(msg)
        if not isinstance(self.window, int | float) or self.window < 0.001:
            msg = f"RateLimitConfig.window must be a positive number of seconds, not {self.window!r}."
            raise ValueError(msg)
        if self.key_type not in KEY_TYPES:
            msg = f"RateLimitConfig.key_type must be one of {KEY_TYPES}, not {self.key_type!r}."
            raise ValueError(msg)
        if self.algorithm not in ALGORITHMS:
            msg = f"RateLimitConfig.algorithm must be one of {ALGORITHMS}, not {self.algorithm!r}."
            raise ValueError(msg)

    @property
    def window_ms(self) -> int:
        return int(round(self.window * 1000))

    def redis_key(self, key: str) -> str:
        return _redis_keys((self,), key, caching_settings.KEY_PREFIX)[0]


@bounded_memo(maxsize=4096)
def _redis_keys(configs: tuple[RateLimitConfig, ...], key: str, prefix: str) -> tuple[str, ...]:
    # The client key is the hash tag: every limit of one client and endpoint lives in one
    # Cluster slot, so a multi-limit check is one script call on one node. Cached because a
    # client usually makes many requests (escaping user input costs more than the lookup), but
    # only for short keys (bounded_memo): a client's long text is never kept in memory;
    # ``prefix`` is part of the cache key so a changed KEY_PREFIX is honoured.
    return tuple(
        make_key("rl", c.endpoint, c.key_type, _SHORT_ALGORITHM[c.algorithm], c.requests, c.window_ms, tag=key)
        for c in configs
    )


@dataclass(frozen=True)
class RateLimitResult:
    """The state of one limit for one key after a check (or a status read)."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the oldest counted request leaves the window (0: nothing counted)
    retry_after: float  # seconds until one more request would pass (0: it passes now)
    config: RateLimitConfig = field(repr=False)
    token: str | None = field(default=None, repr=False)  # the slot taken, for release_rate_limit

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def wait(self) -> float:
        """Seconds until this limit has more room: until one more request passes when it is exhausted,
        else until its oldest counted request leaves the window (0: nothing counted)."""
        return max(self.reset_after, self.retry_after)


def binding_limit(results: Sequence[RateLimitResult]) -> RateLimitResult:
    """The limit that trips first: the fewest requests remaining; of those, the longest wait.

    Not the smallest *fraction* left: with 4 of 5 left on one limit and 12 of 20 on another, exactly
    4 more requests pass. The one place this choice is made (decisions, headers, every scope).
    """
    return min(results, key=lambda r: (r.remaining, -r.wait))


@dataclass(frozen=True)
class RateLimitDecision:
    """All limits of one check: allowed only if every limit allowed."""

    allowed: bool
    results: tuple[RateLimitResult, ...]
    key: str
    token: str | None

    @property
    def binding(self) -> RateLimitResult:
        """The limit that decides (:func:`binding_limit`)."""
        return binding_limit(self.results)

    @property
    def retry_after(self) -> float:
        return max((r.retry_after for r in self.results), default=0.0)


def _validate(configs: Sequence[RateLimitConfig]) -> None:
    if not configs:
        msg = "At least one RateLimitConfig is needed."
        raise ValueError(msg)
    first = configs[0]
    for config in configs[1:]:
        if (config.endpoint, config.key_type, config.algorithm) != (first.endpoint, first.key_type, first.algorithm):
            msg = "Limits checked together must share endpoint, key_type and algorithm."
            raise ValueError(msg)


def _client(client: Any | None) -> Any:
    return client if client is not None else get_redis(ratelimit_settings.REDIS_ALIAS)


def _call_script(configs: Sequence[RateLimitConfig], key: str, mode: str, token: str, redis_client: Any) -> Any:
    """The script's reply, or an awaitable of it when ``redis_client`` is a redis.asyncio client."""
    _validate(configs)
    script = get_script(redis_client, configs[0].algorithm)
    keys = _redis_keys(tuple(configs), key, caching_settings.KEY_PREFIX)
    return script(keys=keys, args=_script_args(configs, mode, token), client=redis_client)


def _script_args(configs: Sequence[RateLimitConfig], mode: str, token: str) -> list[Any]:
    args: list[Any] = [mode, token]
    for config in configs:
        args.extend((config.requests, config.window_ms))
    return args


class _Tokens:
    """Members unique across processes and time: a random prefix per process (drawn again in a forked child,
    which would otherwise repeat its parent's) and a counter. One ``os.urandom`` per request was a system call
    on the event loop, which releases the GIL to whichever of Django's request threads is waiting for it."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


_tokens = _Tokens()


def new_token() -> str:
    """A request's member in the limiter's sorted sets (what ``release`` gives back): the one way to make one."""
    return _tokens.new()


def queue_check(pipe: Any, configs: Sequence[RateLimitConfig], key: str, *, peek: bool = False) -> str:
    """Queue one consuming check (or, with ``peek``, a read that counts nothing) on ``pipe`` (a sync or async
    pipeline) as a raw EVALSHA; returns its token ("" for a peek, which takes no slot).

    For callers that send the check in their own round trip (the JWT revocation pipeline). Read the
    reply with :func:`decision_from_reply`; a ``NoScriptError`` reply means "not checked": run
    :func:`check_rate_limits` (or :func:`get_rate_limit_statuses`), which loads the script.
    """
    _validate(configs)
    token = "" if peek else new_token()
    keys = _redis_keys(tuple(configs), key, caching_settings.KEY_PREFIX)
    args = _script_args(configs, "peek" if peek else "consume", token)
    pipe.execute_command("EVALSHA", LUA_SCRIPTS.sha(configs[0].algorithm), len(keys), *keys, *args)
    return token


def decision_from_reply(configs: Sequence[RateLimitConfig], key: str, reply: list[int], token: str
                        ) -> RateLimitDecision:
    """The decision of a check queued with :func:`queue_check` (a peek's holds no token, as
    :func:`get_rate_limit_statuses`' does not)."""
    return _decision(configs, key, reply, token or None)


def _run(configs: Sequence[RateLimitConfig], key: str, mode: str, token: str, client: Any | None) -> list[int]:
    return _call_script(configs, key, mode, token, _client(client))


async def _arun(configs: Sequence[RateLimitConfig], key: str, mode: str, token: str, client: Any | None) -> list[int]:
    redis_client = client if client is not None else get_async_redis(ratelimit_settings.REDIS_ALIAS)
    return await _call_script(configs, key, mode, token, redis_client)


def _decision(configs: Sequence[RateLimitConfig], key: str, reply: list[int], token: str | None) -> RateLimitDecision:
    allowed = bool(reply[0])
    results = []
    for index, config in enumerate(configs):
        remaining, reset_ms, retry_ms = reply[1 + 3 * index: 4 + 3 * index]
        results.append(RateLimitResult(
            allowed=allowed, limit=config.requests, remaining=int(remaining), reset_after=int(reset_ms) / 1000,
            retry_after=int(retry_ms) / 1000, config=config, token=token if allowed else None,
        ))
    return RateLimitDecision(allowed=allowed, results=tuple(results), key=key, token=token if allowed else None)


def check_rate_limits(configs: Sequence[RateLimitConfig], key: str, *, client: Any | None = None) -> RateLimitDecision:
    """Count one request for ``key`` against every limit in ``configs`` if all have room."""
    token = new_token()
    return _decision(configs, key, _run(configs, key, "consume", token, client), token)


def check_rate_limit(config: RateLimitConfig, key: str, *, client: Any | None = None) -> RateLimitResult:
    """Count one request for ``key`` if the limit has room (the original design's CheckRateLimit)."""
    return check_rate_limits([config], key, client=client).results[0]


async def acheck_rate_limits(configs: Sequence[RateLimitConfig], key: str, *,
                             client: Any | None = None) -> RateLimitDecision:
    """Async twin of :func:`check_rate_limits`, on the event loop's redis.asyncio client."""
    token = new_token()
    return _decision(configs, key, await _arun(configs, key, "consume", token, client), token)


async def acheck_rate_limit(config: RateLimitConfig, key: str, *, client: Any | None = None) -> RateLimitResult:
    """Async twin of :func:`check_rate_limit` (for Channels consumers)."""
    return (await acheck_rate_limits([config], key, client=client)).results[0]


def get_rate_limit_statuses(configs: Sequence[RateLimitConfig], key: str, *,
                            client: Any | None = None) -> RateLimitDecision:
    """The limits' state for ``key`` without counting anything."""
    return _decision(configs, key, _run(configs, key, "peek", "", client), None)


async def aget_rate_limit_statuses(configs: Sequence[RateLimitConfig], key: str, *,
                                   client: Any | None = None) -> RateLimitDecision:
    """Async twin of :func:`get_rate_limit_statuses`."""
    return _decision(configs, key, await _arun(configs, key, "peek", "", client), None)


def get_rate_limit_status(config: RateLimitConfig, key: str, *, client: Any | None = None) -> RateLimitResult:
    """One limit's state for ``key`` without counting a request (the original design's GetRateLimitStatus)."""
    return get_rate_limit_statuses([config], key, client=client).results[0]


def release_rate_limit(configs: Sequence[RateLimitConfig], key: str, token: str, *, client: Any | None = None) -> None:
    """Give back the slot ``token`` took (e.g. a login that succeeded must not count as a failure)."""
    _run(configs, key, "release", token, client)


async def arelease_rate_limit(configs: Sequence[RateLimitConfig], key: str, token: str, *,
                             client: Any | None = None) -> None:
    """Async twin of :func:`release_rate_limit`."""
    await _arun(configs, key, "release", token, client)


def reset_rate_limit(configs: Sequence[RateLimitConfig], key: str, *, client: Any | None = None) -> int:
    """Forget every request counted for ``key`` in these limits; returns how many keys were deleted."""
    _validate(configs)
    return int(_client(client).delete(*_redis_keys(tuple(configs), key, caching_settings.KEY_PREFIX)))


def ceil_seconds(value: float) -> int:
    """Whole seconds for headers (delay-seconds): never round a wait down."""
    return int(math.ceil(value - 1e-9)) if value > 0 else 0
