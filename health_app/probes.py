"""Redis clients for health probes: the app's configuration, short timeouts, no retries.

The apps' own clients retry with backoff and wait seconds for a slow server, which is right
for requests and wrong for a probe: a probe must fail fast. Probe clients are built by the
connection layer from the same alias configuration (so TLS, ACL, Sentinel and Cluster behave
the same) with only the timeouts, retries and pool size changed, and are kept per process
until the configuration changes.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from redis.exceptions import RedisError

from caching_app.foundation.connections import build_sync_client, redis_connections

from .conf import health_settings

PROBE_POOL_SIZE = 8  # concurrent probes per alias in one process; more wait up to the probe timeout


class ProbeClients:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[Any, float, Any]] = {}

    def get(self, alias: str) -> Any:
        config = redis_connections.config(alias)
        timeout = float(health_settings.PROBE_SOCKET_TIMEOUT)
        entry = self._clients.get(alias)
        if entry is not None and entry[0] is config and entry[1] == timeout:
            return entry[2]
        with self._lock:
            entry = self._clients.get(alias)
            if entry is not None and entry[0] is config and entry[1] == timeout:
                return entry[2]
            probe_config = replace(
                config, dial_timeout=timeout, read_timeout=timeout, write_timeout=timeout, pool_timeout=timeout,
                max_retries=0, min_idle_connections=0, pool_size=min(config.pool_size, PROBE_POOL_SIZE),
            )
            client = build_sync_client(probe_config)
            self._clients[alias] = (config, timeout, client)
        if entry is not None:
            _close(entry[2])
        return client

    def reset(self) -> None:
        with self._lock:
            old, self._clients = self._clients, {}
        for _config, _timeout, client in old.values():
            _close(client)


def _close(client: Any) -> None:
    try:
        client.close()
    except (RedisError, OSError):  # noqa: S110 - a dead pool must not break the probe that replaces it
        pass


probe_clients = ProbeClients()


def get_probe_redis(alias: str) -> Any:
    """A fail-fast client for ``alias`` (same server and credentials as ``get_redis(alias)``)."""
    return probe_clients.get(alias)


def reset_probe_clients(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: drop probe clients when the Redis or health settings change."""
    if setting in ("WINKR_REDIS", "WINKR_HEALTH"):
        probe_clients.reset()
