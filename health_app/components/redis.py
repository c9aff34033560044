"""The redis component: PING, INFO, topology (Cluster, Sentinel, replication) and eviction safety."""

from __future__ import annotations

import re
from time import perf_counter
from typing import Any

import redis
from redis.exceptions import RedisError

from caching_app.foundation.connections import redis_connections
from health_app.conf import health_settings
from health_app.probes import get_probe_redis

from .base import DEGRADED, HEALTHY, UNHEALTHY, HealthCheck, worst

CLUSTER_SLOTS = 16384
INFO_FIELDS = (
    "redis_version", "role", "uptime_in_seconds", "connected_clients", "blocked_clients", "used_memory",
    "used_memory_human", "used_memory_peak_human", "maxmemory", "maxmemory_policy", "evicted_keys",
    "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
)


def probe_aliases() -> list[str]:
    return list(health_settings.REDIS_ALIASES or redis_connections)


def _ms(start: float) -> float:
    return round((perf_counter() - start) * 1000, 3)


def _pick(info: dict[str, Any]) -> dict[str, Any]:
    return {field: info[field] for field in INFO_FIELDS if field in info}


def replication_problems(info: dict[str, Any], max_lag: float) -> tuple[dict[str, Any], list[str]]:
    """Replicas and their lag from ``INFO replication`` (primary's view, or a replica's own)."""
    problems: list[str] = []
    if info.get("role") == "master":
        master_offset = int(info.get("master_repl_offset", 0))
        replicas: list[dict[str, Any]] = []
        for key in sorted(k for k in info if re.fullmatch(r"slave\d+", k)):
            entry = info[key]
            if not isinstance(entry, dict):
                continue
            replica: dict[str, Any] = {
                "address": f"{entry.get('ip')}:{entry.get('port')}",
                "state": entry.get("state"),
                "lag_seconds": int(entry.get("lag", 0)),
                "offset_behind_bytes": max(0, master_offset - int(entry.get("offset", 0))),
            }
            replicas.append(replica)
            if replica["state"] != "online":
                problems.append(f"replica {replica['address']} is {replica['state']}")
            elif replica["lag_seconds"] > max_lag:
                problems.append(f"replica {replica['address']} lags {replica['lag_seconds']}s")
        return {"role": "primary", "replicas": replicas}, problems
    link = info.get("master_link_status")
    details = {
        "role": "replica",
        "primary": f"{info.get('master_host')}:{info.get('master_port')}",
        "link": link,
        "last_io_seconds_ago": info.get("master_last_io_seconds_ago"),
    }
    if link != "up":
        problems.append(f"replica link to its primary is {link}")
    elif int(info.get("master_last_io_seconds_ago", 0)) > max_lag:
        problems.append(f"replica last heard from its primary {info.get('master_last_io_seconds_ago')}s ago")
    return details, problems


def eviction_problems(info: dict[str, Any], eviction_allowed: bool) -> list[str]:
    """A store holding state (sessions, tokens, limits) must never lose keys to eviction."""
    if eviction_allowed:
        return []
    problems = []
    policy = info.get("maxmemory_policy")
    if policy is not None and policy != "noeviction":
        problems.append(f"maxmemory-policy is {policy}, but this alias holds state and needs noeviction")
    evicted = int(info.get("evicted_keys", 0))
    if evicted:
        problems.append(f"{evicted} keys were evicted since the last restart or CONFIG RESETSTAT")
    return problems


class RedisAliasProbe:
    """Everything the redis component learns about one alias; raises RedisError when it is down."""

    def __init__(self, alias: str):
        self.alias = alias
        self.config = redis_connections.config(alias)
        self.client = get_probe_redis(alias)
        self.max_lag = float(health_settings.MAX_REPLICATION_LAG)

    def run(self) -> dict[str, Any]:
        start = perf_counter()
        self.client.ping()
        stats: dict[str, Any] = {"target": self.config.describe(), "mode": self.config.mode, "ping_ms": _ms(start)}
        problems: list[str] = []
        failures: list[str] = []
        if self.config.mode == "cluster":
            self._cluster(stats, problems, failures)
        else:
            info = self.client.info()
            stats.update(_pick(info))
            stats["replication"], lag_problems = replication_problems(info, self.max_lag)
            problems += lag_problems + eviction_problems(info, self.config.eviction_allowed)
            if self.config.mode == "sentinel":
                self._sentinel(stats, problems)
        status = UNHEALTHY if failures else (DEGRADED if problems else HEALTHY)
        result = {"status": status, **stats}
        if failures or problems:
            result["problems"] = failures + problems
        return result

    def _cluster(self, stats: dict[str, Any], problems: list[str], failures: list[str]) -> None:
        cluster_info = self.client.cluster_info()
        state = cluster_info.get("cluster_state")
        assigned = int(cluster_info.get("cluster_slots_assigned", 0))
        ok = int(cluster_info.get("cluster_slots_ok", 0))
        stats["cluster"] = {
            "state": state, "slots_assigned": assigned, "slots_ok": ok,
            "slots_fail": int(cluster_info.get("cluster_slots_fail", 0)),
            "known_nodes": int(cluster_info.get("cluster_known_nodes", 0)),
            "size": int(cluster_info.get("cluster_size", 0)),
        }
        if state != "ok":
            failures.append(f"cluster_state is {state}")
        elif assigned < CLUSTER_SLOTS or ok < CLUSTER_SLOTS:
            problems.append(f"only {min(assigned, ok)} of {CLUSTER_SLOTS} slots are served")
        nodes = {}
        for node in self.client.get_primaries():
            info = self.client.info(target_nodes=node)
            nodes[node.name] = _pick(info)
            _details, lag_problems = replication_problems(info, self.max_lag)
            problems += [f"{node.name}: {text}" for text in
                         lag_problems + eviction_problems(info, self.config.eviction_allowed)]
        stats["nodes"] = nodes
        versions = {node.get("redis_version") for node in nodes.values()}
        stats["redis_version"] = ", ".join(sorted(v for v in versions if v))
        stats["evicted_keys"] = sum(int(node.get("evicted_keys", 0)) for node in nodes.values())
        stats["connected_clients"] = sum(int(node.get("connected_clients", 0)) for node in nodes.values())
        stats["used_memory"] = sum(int(node.get("used_memory", 0)) for node in nodes.values())

    def _sentinel(self, stats: dict[str, Any], problems: list[str]) -> None:
        sentinel = self.client.winkr_sentinel
        service = self.config.sentinel_service
        host, port = sentinel.discover_master(service)
        details: dict[str, Any] = {"service": service, "primary": f"{host}:{port}", "quorum": None}
        for node in sentinel.sentinels:
            try:
                node.sentinel_ckquorum(service)
            except redis.ResponseError as exc:  # NOQUORUM: a failover could not be authorised
                details["quorum"] = str(exc)
                problems.append(f"sentinel quorum: {exc}")
                break
            except (RedisError, OSError):
                continue  # this sentinel is down; ask the next
            details["quorum"] = "ok"
            break
        else:
            problems.append("no sentinel answered CKQUORUM")
        stats["sentinel"] = details


class RedisCheck(HealthCheck):
    """PING and INFO on every alias, its topology, and that the state store cannot evict."""

    name = "redis"

    def run(self) -> dict[str, Any]:
        from health_app.metrics import redis_summary

        stats: dict[str, Any] = {}
        for alias in probe_aliases():
            try:
                stats[alias] = RedisAliasProbe(alias).run()
            except (RedisError, OSError) as exc:
                stats[alias] = {
                    "status": UNHEALTHY,
                    "target": redis_connections.config(alias).describe(),
                    "error": f"{type(exc).__name__}: {exc}",
                }
        pinged = all("ping_ms" in entry for entry in stats.values())
        return {
            "status": worst(entry["status"] for entry in stats.values()),
            "ping": "ok" if pinged else "failed",
            "stats": stats,
            "metrics": redis_summary(),
        }


class RedisPingCheck(HealthCheck):
    """Readiness: every alias answers PING (nothing heavier, probes run often)."""

    name = "redis"

    def run(self) -> dict[str, Any]:
        aliases: dict[str, str] = {}
        for alias in probe_aliases():
            try:
                get_probe_redis(alias).ping()
                aliases[alias] = HEALTHY
            except (RedisError, OSError):
                aliases[alias] = UNHEALTHY
        return {"status": worst(aliases.values()), "aliases": aliases}
