"""The one place that builds Redis clients, for every winkr app and for django-redis.

``get_redis(alias)`` returns a sync redis-py client, ``get_async_redis(alias)`` a
``redis.asyncio`` client bound to the running event loop. Aliases come from the
``WINKR_REDIS`` setting (``{"state": {...}, "cache": {...}}``), validated by
:mod:`caching_app.foundation.config`.

Sync clients are process-global (as django-redis keeps its pools): redis-py pools are
thread-safe, and one pool per process bounds the number of connections. Async clients
are kept per event loop, as channels_redis does, because a ``redis.asyncio`` pool must
never be used from a loop other than the one that created its connections.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .clients import (
    AsyncBlockingConnectionPool,
    AsyncConnection,
    AsyncSSLConnection,
    AsyncUnixDomainSocketConnection,
    InstrumentedAsyncRedis,
    InstrumentedAsyncRedisCluster,
    InstrumentedRedis,
    InstrumentedRedisCluster,
    unreachable_cluster,
)
from .config import RedisAliasConfig, parse_alias

STATE = "state"
CACHE = "cache"
DEFAULT_ALIASES = (STATE, CACHE)

RETRY_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionResetError, OSError)


def _backoff() -> ExponentialWithJitterBackoff:
    # Reconnect quickly after a blip, never hammer a server that is down.
    return ExponentialWithJitterBackoff(cap=1.0, base=0.05)


@dataclass(frozen=True)
class _Flavour:
    """The redis-py classes of one side (sync or asyncio): the build logic is the same for both."""

    retry: type
    redis: type
    cluster: type
    cluster_node: type
    sentinel: type
    pool: type
    tcp_connection: type
    ssl_connection: type
    unix_connection: type


_SYNC = _Flavour(Retry, InstrumentedRedis, InstrumentedRedisCluster, redis.cluster.ClusterNode, redis.sentinel.Sentinel,
                 redis.BlockingConnectionPool, redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection)
_ASYNC = _Flavour(AsyncRetry, InstrumentedAsyncRedis, InstrumentedAsyncRedisCluster, redis.asyncio.cluster.ClusterNode,
                  redis.asyncio.sentinel.Sentinel, AsyncBlockingConnectionPool, AsyncConnection,
                  AsyncSSLConnection, AsyncUnixDomainSocketConnection)


def _build(config: RedisAliasConfig, flavour: _Flavour) -> Any:
    kwargs: dict[str, Any] = {
        "username": config.username,
        "password": config.password,
        "socket_connect_timeout": config.dial_timeout,
        "socket_timeout": config.socket_timeout,
        "health_check_interval": config.health_check_interval,
        "retry": flavour.retry(_backoff(), config.max_retries, supported_errors=RETRY_ERRORS),
        "client_name": f"winkr-{config.alias}",
    }
    if config.tls:
        kwargs.update(
            ssl_ca_certs=config.ssl_ca_certs,
            ssl_certfile=config.ssl_certfile,
            ssl_keyfile=config.ssl_keyfile,
            ssl_cert_reqs=config.ssl_cert_reqs,
        )
    if config.mode == "cluster":
        try:  # the sync client asks the seed nodes for the slot map right here
            client = flavour.cluster(
                startup_nodes=[flavour.cluster_node(node.host, node.port) for node in config.cluster_nodes],
                max_connections=config.pool_size, ssl=config.tls, **kwargs,
            )
        except RedisClusterException as exc:
            raise unreachable_cluster(config.alias, exc) from exc
    elif config.mode == "sentinel":
        sentinel = flavour.sentinel(
            [(node.host, node.port) for node in config.sentinels],
            sentinel_kwargs={
                "username": config.sentinel_username,
                "password": config.sentinel_password,
                "socket_connect_timeout": config.dial_timeout,
                "socket_timeout": config.socket_timeout,
            },
            ssl=config.tls,
            **kwargs,
        )
        client = sentinel.master_for(config.sentinel_service, redis_class=flavour.redis, db=config.db,
                                     max_connections=config.pool_size)
        client.winkr_sentinel = sentinel
    else:
        pool_kwargs = dict(kwargs, db=config.db, max_connections=config.pool_size, timeout=config.pool_timeout)
        if config.scheme == "unix":
            pool_kwargs.pop("socket_connect_timeout")
            pool_kwargs.update(connection_class=flavour.unix_connection, path=config.path)
        else:
            pool_kwargs.update(host=config.host, port=config.port,
                               connection_class=flavour.ssl_connection if config.tls else flavour.tcp_connection)
        client = flavour.redis(connection_pool=flavour.pool(**pool_kwargs))
    client.winkr_alias = config.alias
    return client


def build_sync_client(config: RedisAliasConfig) -> redis.Redis | redis.RedisCluster:
    """Build a new sync client for ``config`` (callers normally use :func:`get_redis`)."""
    return _build(config, _SYNC)


def build_async_client(config: RedisAliasConfig) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
    """Build a new ``redis.asyncio`` client for ``config`` (callers use :func:`get_async_redis`)."""
    return _build(config, _ASYNC)


def _prefill(client: Any, count: int) -> None:
    """Open ``count`` connections up front (the design's MinIdleConns); best effort."""
    pool = getattr(client, "connection_pool", None)
    if not count or pool is None or not hasattr(pool, "get_connection"):
        return
    taken = []
    try:
        for _ in range(count):
            connection = pool.get_connection()
            connection.connect()
            taken.append(connection)
    except (redis.RedisError, OSError):
        pass  # Redis not up yet: connections are made on demand instead.
    finally:
        for connection in taken:
            pool.release(connection)


class RedisConnections:
    """Lazy registry of clients per alias, reset when ``WINKR_REDIS`` changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._configs: dict[str, RedisAliasConfig] | None = None
        self._same_server: dict[tuple[str, str], bool] = {}
        self._sync: dict[str, Any] = {}
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )
        # The last loop asked for and its clients: a WeakKeyDictionary look-up makes a weak reference per
        # call, and under ASGI every request of the process asks from the same loop. (The registry it came
        # from is kept too: a reset in another thread replaces the registry, and then this is not used.)
        self._last_loop: tuple[weakref.ref[asyncio.AbstractEventLoop], dict[str, Any], Any] | None = None

    @property
    def configs(self) -> dict[str, RedisAliasConfig]:
        if self._configs is None:
            raw = getattr(settings, "WINKR_REDIS", None) or {}
            if not isinstance(raw, dict):
                msg = "WINKR_REDIS must be a dict of alias -> options."
                raise ImproperlyConfigured(msg)
            configs = {alias: parse_alias(alias, options) for alias, options in raw.items()}
            for alias in DEFAULT_ALIASES:
                configs.setdefault(alias, parse_alias(alias, {}))
            self._configs = configs
        return self._configs

    def config(self, alias: str) -> RedisAliasConfig:
        try:
            return self.configs[alias]
        except KeyError:
            msg = f"No Redis alias {alias!r} in WINKR_REDIS (known: {', '.join(sorted(self.configs))})."
            raise ImproperlyConfigured(msg) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.configs)

    def get(self, alias: str = STATE) -> Any:
        client = self._sync.get(alias)
        if client is None:
            with self._lock:
                client = self._sync.get(alias)
                if client is None:
                    config = self.config(alias)
                    client = build_sync_client(config)
                    _prefill(client, config.min_idle_connections)
                    self._sync[alias] = client
        return client

    def get_async(self, alias: str = STATE) -> Any:
        loop = asyncio.get_running_loop()
        last = self._last_loop
        if last is not None and last[0]() is loop and last[2] is self._async:
            clients = last[1]
        else:
            registry = self._async
            clients = registry.setdefault(loop, {})
            self._last_loop = (weakref.ref(loop), clients, registry)
        client = clients.get(alias)
        if client is None:
            client = clients[alias] = build_async_client(self.config(alias))
        return client

    async def aclose_loop_clients(self) -> None:
        """Close the running loop's async clients and forget them (a loop that ends with its request).

        Django's sync handler runs an async view in a one-off event loop per request: clients left behind
        would keep connections bound to a closed loop until the garbage collector finds them.
        """
        self._last_loop = None
        clients = self._async.pop(asyncio.get_running_loop(), {})
        for client in clients.values():
            try:  # the pool was passed in, so redis-py would leave it open; a cluster client closes its nodes
                await (client.aclose() if isinstance(client, redis.asyncio.RedisCluster)
                       else client.aclose(close_connection_pool=True))
            except (redis.RedisError, OSError):  # noqa: S110 - a dead connection needs no goodbye
                pass

    def same_server(self, alias: str, other: str) -> bool:
        """True when both aliases reach the same Redis (and database): one pipeline can serve both.

        Asked for every companion of every authenticated request: answered once per pair and configuration.
        """
        known = self._same_server.get((alias, other))
        if known is None:
            a, b = self.config(alias), self.config(other)
            known = self._same_server[alias, other] = (
                a.mode, a.url, a.db, a.cluster_nodes, a.sentinels, a.sentinel_service) == (
                b.mode, b.url, b.db, b.cluster_nodes, b.sentinels, b.sentinel_service)
        return known

    def built_clients(self) -> dict[str, Any]:
        """The sync clients built so far in this process, by alias (for pool statistics)."""
        return dict(self._sync)

    def reset(self) -> None:
        """Forget every client and configuration (tests, settings changes)."""
        with self._lock:
            old = list(self._sync.values())
            self._sync = {}
            self._configs = None
            self._same_server = {}
            self._async = weakref.WeakKeyDictionary()
            self._last_loop = None
        for client in old:
            try:
                client.close()
            except (redis.RedisError, OSError):  # noqa: S110 - closing a dead pool must not mask the reset
                pass


redis_connections = RedisConnections()


def get_redis(alias: str = STATE) -> redis.Redis | redis.RedisCluster:
    """The shared sync client for ``alias`` (``"state"`` or ``"cache"`` by default)."""
    return redis_connections.get(alias)


def get_async_redis(alias: str = STATE) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
    """The ``redis.asyncio`` client for ``alias`` bound to the running event loop."""
    return redis_connections.get_async(alias)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "WINKR_REDIS":
        redis_connections.reset()
        # django-redis clients hold the old client through our connection factory;
        # drop Django's per-thread cache objects so the next access builds new ones.
        from asgiref.local import Local
        from django.core.cache import caches

        caches._connections = Local(caches.thread_critical)  # type: ignore[attr-defined]  # private, not stubbed


setting_changed.connect(_on_setting_changed, weak=False)
