"""``CACHES["default"]``: django-redis, signed pickle, and native async methods.

``BACKEND = "caching_app.django_cache.RedisCache"`` with ``OPTIONS["CLIENT_CLASS"] =
"caching_app.django_cache.SignedClient"`` and ``OPTIONS["SERIALIZER"] =
"caching_app.signing.SignedPickleSerializer"`` (winkr/settings.py does this):

- Sync methods are django-redis' own (its key making, pipelines, ``IGNORE_EXCEPTIONS``).
- :class:`SignedClient` reads an entry whose signature is missing or wrong as a miss, logged
  and counted in ``winkr_cache_untrusted_payloads_total``, instead of raising into the view.
- The ``a*`` methods run on ``redis.asyncio`` (``get_async_redis``, one client per event loop)
  instead of Django's ``sync_to_async`` thread hop (django-redis issue 771). They build keys
  and payloads with the *same* client methods as the sync side (``make_key``, ``encode``,
  ``decode``: serializer and compressor), so an entry written by one is read by the other.
  ``aincr`` is one Lua script (EXISTS + INCRBY), atomic as django-redis' ``incr``.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django_redis.cache import RedisCache as DjangoRedisCache
from django_redis.client import DefaultClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .django_redis import alias_of
from .foundation.connections import get_async_redis
from .foundation.scripts import LuaScripts
from .metrics import UNTRUSTED_PAYLOADS
from .signing import UntrustedPayload

logger = logging.getLogger(__name__)

CACHE_SCRIPTS = LuaScripts(Path(__file__).resolve().parent / "lua")
MISS = object()  # what decode() gives for an entry we refuse to unpickle
# The errors django-redis' omit_exception turns into a miss under IGNORE_EXCEPTIONS.
IGNORED_ERRORS = (RedisConnectionError, RedisTimeoutError, ResponseError, socket.timeout)


class SignedClient(DefaultClient):
    """django-redis' client; an entry failing the signature check is a miss, never an exception."""

    def decode(self, value: bytes | int | str) -> Any:
        try:
            return super().decode(value)
        except UntrustedPayload as exc:
            UNTRUSTED_PAYLOADS.labels(exc.reason).inc()
            logger.warning("Refused a cache entry with a %s signature (read as a miss): something other than "
                           "this project wrote it, or it was signed with a key no longer configured", exc.reason)
            return MISS

    def get(self, key: Any, default: Any = None, version: int | None = None, client: Any = None) -> Any:
        value = super().get(key, default=default, version=version, client=client)
        return default if value is MISS else value

    def get_many(self, keys: Any, version: int | None = None, client: Any = None) -> dict:
        return {k: v for k, v in super().get_many(keys, version=version, client=client).items() if v is not MISS}


def _omit_async(return_value: Any = None) -> Callable:
    """Async twin of django-redis' ``omit_exception``: Redis errors become ``return_value`` if configured."""

    def decorate(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except IGNORED_ERRORS:
                if not self._ignore_exceptions:
                    raise
                if self._log_ignored_exceptions:
                    self.logger.exception("Exception ignored")
                return return_value

        return wrapper

    return decorate


class RedisCache(DjangoRedisCache):
    """django-redis' ``RedisCache`` with native ``redis.asyncio`` twins of the cache API.

    (``timeout`` in these signatures is Django's: the entry's expiry, not a call deadline.)
    """

    @property
    def _alias(self) -> str:
        server = self._server[0] if isinstance(self._server, list | tuple) else str(self._server).split(",")[0]
        return alias_of(server)

    def _aclient(self) -> Any:
        return get_async_redis(self._alias)

    def _px(self, timeout: Any) -> int | None:
        """Milliseconds for SET PX (None: no expiry), as django-redis' ``set`` computes them."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else int(timeout * 1000)

    def _decoded(self, raw: Any, default: Any = None) -> Any:
        if raw is None:
            return default
        value = self.client.decode(raw)
        return default if value is MISS else value

    # --- reads ---------------------------------------------------------------------------------------
    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = await self._aget(key, version)
        return default if value is MISS else value

    @_omit_async(return_value=MISS)  # Redis down (ignored): the caller's default, as django-redis' get
    async def _aget(self, key: Any, version: int | None) -> Any:
        raw = await self._aclient().get(self.client.make_key(key, version=version))
        return self._decoded(raw, MISS)

    @_omit_async(return_value={})
    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict:
        keys = list(keys)
        if not keys:
            return {}
        made = {self.client.make_key(k, version=version): k for k in keys}
        values = await self._aclient().mget(list(made))
        found = {}
        for made_key, raw in zip(made, values, strict=True):
            value = self._decoded(raw, MISS)
            if value is not MISS:
                found[made[made_key]] = value
        return found

    @_omit_async(return_value=False)
    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        return await self._aclient().exists(self.client.make_key(key, version=version)) == 1

    async def aget_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - Django's cache API: the entry's expiry
                          version: int | None = None) -> Any:
        # Django's BaseCache.aget_or_set, on our aget/aadd (its body is already native async).
        value = await self.aget(key, MISS, version=version)
        if value is MISS:
            if callable(default):
                default = default()
            await self.aadd(key, default, timeout=timeout, version=version)
            # Fetch the value again to avoid a race condition if another caller added a value first.
            return await self.aget(key, default, version=version)
        return value

    # --- writes --------------------------------------------------------------------------------------
    async def _aset(self, client: Any, key: Any, value: Any, expiry: Any, version: int | None,
                    nx: bool = False) -> bool:
        made = self.client.make_key(key, version=version)
        px = self._px(expiry)
        if px is not None and px <= 0:
            # django-redis' rule: a timeout <= 0 deletes (SET PX refuses it); add() never deletes.
            if nx:
                return not await client.exists(made)
            return bool(await client.delete(made))
        return bool(await client.set(made, self.client.encode(value), nx=nx, px=px))

    @_omit_async()
    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None,  # noqa: ASYNC109 - Django's cache API: the entry's expiry
                   nx: bool = False) -> bool:
        return await self._aset(self._aclient(), key, value, timeout, version, nx=nx)

    @_omit_async()
    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:  # noqa: ASYNC109 - Django's cache API: the entry's expiry
        return await self._aset(self._aclient(), key, value, timeout, version, nx=True)

    @_omit_async()
    async def aset_many(self, data: dict, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list:  # noqa: ASYNC109 - Django's cache API: the entry's expiry
        px = self._px(timeout)
        made = {self.client.make_key(k, version=version): self.client.encode(v) for k, v in data.items()}
        pipe = self._aclient().pipeline(transaction=False)
        for made_key, payload in made.items():
            if px is not None and px <= 0:
                pipe.delete(made_key)
            else:
                pipe.set(made_key, payload, px=px)
        await pipe.execute()
        return []

    @_omit_async()
    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:  # noqa: ASYNC109 - Django's cache API: the entry's expiry
        made = self.client.make_key(key, version=version)
        px = self._px(timeout)
        if px is None:
            return bool(await self._aclient().persist(made))
        return bool(await self._aclient().pexpire(made, px))

    @_omit_async()
    async def adelete(self, key: Any, version: int | None = None) -> bool:
        return bool(await self._aclient().delete(self.client.make_key(key, version=version)))

    @_omit_async()
    async def adelete_many(self, keys: Iterable[Any], version: int | None = None) -> int | None:
        made = [self.client.make_key(k, version=version) for k in keys]
        if not made:
            return None
        return await self._aclient().delete(*made)

    @_omit_async()
    async def aclear(self) -> bool:
        # django-redis' clear() is FLUSHDB too: the cache alias holds evictable data only.
        return bool(await self._aclient().flushdb())

    # --- counters --------------------------------------------------------------------------------------
    @_omit_async()
    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        client = self._aclient()
        made = self.client.make_key(key, version=version)
        try:
            value = await CACHE_SCRIPTS.get(client, "cache_incr")(keys=[made], args=[delta])
        except ResponseError:
            # Not an integer Redis can add to (beyond 64 bits, or a pickled number): what
            # django-redis' incr does in this case, keeping the entry's TTL. Not atomic, as there.
            ttl_ms = await client.pttl(made)
            if ttl_ms == -2:
                msg = f"Key '{made!r}' not found"
                raise ValueError(msg) from None
            current = await self.aget(key, version=version)
            if current is None:
                msg = f"Key '{made!r}' not found"
                raise ValueError(msg) from None
            value = current + delta
            await client.set(made, self.client.encode(value), px=ttl_ms if ttl_ms > 0 else None)
            return value
        if value is None:
            msg = f"Key '{made!r}' not found"
            raise ValueError(msg)
        return int(value)

    async def adecr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return await self.aincr(key, -delta, version=version)
