"""Connection pool statistics of the connection layer's clients in this process.

redis-py has no public pool statistics (go-redis' ``PoolStats``), so the counts are read from
the pools' own bookkeeping attributes, defensively: an unknown pool class reports zeros rather
than failing a health check.
"""

from __future__ import annotations

from typing import Any

import redis

from caching_app.foundation.connections import redis_connections


def _built_clients() -> dict[str, Any]:
    # Only clients the process already built: building one here would open connections
    # (MIN_IDLE_CONNECTIONS) just to report on them.
    return redis_connections.built_clients()


def _pools(client: Any) -> list[Any]:
    if isinstance(client, redis.RedisCluster):
        return [node.redis_connection.connection_pool for node in client.get_nodes() if node.redis_connection]
    pool = getattr(client, "connection_pool", None)
    return [pool] if pool is not None else []


def _count(pool: Any) -> tuple[int, int]:
    """(in use, idle) connections of one pool."""
    if isinstance(pool, redis.BlockingConnectionPool):
        created = len(getattr(pool, "_connections", ()))
        queue = getattr(getattr(pool, "pool", None), "queue", ())
        idle = sum(1 for connection in list(queue) if connection is not None)
        return max(0, created - idle), idle
    in_use = len(getattr(pool, "_in_use_connections", ()))
    idle = len(getattr(pool, "_available_connections", ()))
    return in_use, idle


def pool_stats() -> dict[str, dict[str, int]]:
    """``{alias: {"max_connections", "in_use", "idle", "total", "nodes"}}`` for this process."""
    stats = {}
    for alias, client in _built_clients().items():
        pools = _pools(client)
        in_use = idle = 0
        for pool in pools:
            used, free = _count(pool)
            in_use += used
            idle += free
        stats[alias] = {
            "max_connections": redis_connections.config(alias).pool_size * max(1, len(pools)),
            "in_use": in_use,
            "idle": idle,
            "total": in_use + idle,
            "nodes": len(pools),
        }
    return stats
