"""Metrics export: every prometheus-client metric of the process (or of all processes), plus
gauges computed at scrape time, as Prometheus text or as a JSON summary.

The apps record into prometheus-client's default registry (``winkr_redis_*`` in the connection
layer, ``winkr_cache_*``, ``winkr_ratelimit_*``, ...). With ``PROMETHEUS_MULTIPROC_DIR`` set
(several worker processes), values are read from the directory shared by all processes through
``MultiProcessCollector``, so counters are sums over the workers.

Gauges computed at scrape time (``winkr_health_*``): active sessions and online users (global,
read from Redis), the cache hit ratio per kind, and connection pool usage. Pool figures describe
the process that answered the scrape (a pool belongs to one process).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from .conf import health_settings
from .pools import pool_stats
from .runner import call_with_deadline, timestamp

logger = logging.getLogger(__name__)

RATE_LIMIT_PREFIXES = ("winkr_ratelimit_",)
PUBSUB_PREFIXES = ("winkr_realtime_", "winkr_pubsub_")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def source_families() -> list[Metric]:
    """The recorded metrics: this process' default registry, or every process' files."""
    path = multiprocess_dir()
    collector = MultiProcessCollector(None, path=path) if path else REGISTRY
    return list(collector.collect())


def _samples(families: Iterable[Metric], sample_name: str) -> Iterator[tuple[dict[str, str], float]]:
    for family in families:
        for sample in family.samples:
            if sample.name == sample_name:
                yield sample.labels, sample.value


def _by_label(families: Iterable[Metric], sample_name: str, label: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for labels, value in _samples(families, sample_name):
        totals[labels.get(label, "")] += value
    return dict(totals)


def _ratio(hits: float, misses: float) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None


def cache_summary(families: list[Metric] | None = None) -> dict[str, dict[str, Any]]:
    """``{kind: {"hits", "misses", "ratio"}}`` from ``winkr_cache_hits``/``winkr_cache_misses``."""
    families = source_families() if families is None else families
    hits = _by_label(families, "winkr_cache_hits_total", "kind")
    misses = _by_label(families, "winkr_cache_misses_total", "kind")
    return {
        kind: {"hits": int(hits.get(kind, 0)), "misses": int(misses.get(kind, 0)),
               "ratio": _ratio(hits.get(kind, 0), misses.get(kind, 0))}
        for kind in sorted(set(hits) | set(misses))
    }


def _totals_by_sample(families: Iterable[Metric], prefixes: tuple[str, ...]) -> dict[str, float]:
    """Totals per sample name (labels summed) of the families whose name has one of ``prefixes``."""
    totals: dict[str, float] = defaultdict(float)
    for family in families:
        if not family.name.startswith(prefixes):
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            totals[sample.name] += sample.value
    return dict(sorted(totals.items()))


def rate_limit_summary(families: list[Metric] | None = None) -> dict[str, float]:
    return _totals_by_sample(source_families() if families is None else families, RATE_LIMIT_PREFIXES)


def pubsub_summary(families: list[Metric] | None = None) -> dict[str, float]:
    return _totals_by_sample(source_families() if families is None else families, PUBSUB_PREFIXES)


def redis_summary(families: list[Metric] | None = None) -> dict[str, Any]:
    """Per alias: commands, errors, error rate, mean latency (from the connection layer) and pools."""
    families = source_families() if families is None else families
    commands = _by_label(families, "winkr_redis_commands_total", "alias")
    errors = _by_label(families, "winkr_redis_command_errors_total", "alias")
    latency_count = _by_label(families, "winkr_redis_command_seconds_count", "alias")
    latency_sum = _by_label(families, "winkr_redis_command_seconds_sum", "alias")
    aliases = sorted(set(commands) | set(errors))
    return {
        "pools": pool_stats(),
        "commands": {alias: int(commands.get(alias, 0)) for alias in aliases},
        "errors": {alias: int(errors.get(alias, 0)) for alias in aliases},
        "error_rate": {alias: round(errors.get(alias, 0) / commands[alias], 4) if commands.get(alias) else None
                       for alias in aliases},
        "latency_avg_ms": {
            alias: round(latency_sum[alias] / latency_count[alias] * 1000, 3)
            for alias in aliases if latency_count.get(alias)
        },
    }


def session_figures() -> dict[str, Any]:
    """Active sessions and online users from sessions_app (None when not installed or unreachable)."""
    try:
        from sessions_app import services
    except ImportError:
        return {"active_sessions": None, "online_users": None}

    def count() -> dict[str, Any]:
        return {"active_sessions": services.count_active_sessions(), "online_users": services.count_online_users()}

    try:
        return call_with_deadline(count, float(health_settings.TIMEOUT), "metrics-sessions")
    except Exception as exc:  # noqa: BLE001 - whatever breaks, /metrics still renders (the figure is None)
        logger.warning("Could not count sessions for metrics: %s", exc)
        return {"active_sessions": None, "online_users": None, "error": f"{type(exc).__name__}: {exc}"}


class ScrapeTimeCollector:
    """Gauges computed when scraped rather than recorded as events happen."""

    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self) -> Iterator[Metric]:
        sessions = session_figures()
        for key, help_text in (("active_sessions", "Device sessions that have not expired."),
                               ("online_users", "Users seen online recently.")):
            if sessions.get(key) is not None:
                yield GaugeMetricFamily(f"winkr_health_{key}", help_text, value=sessions[key])

        ratio = GaugeMetricFamily("winkr_health_cache_hit_ratio", "Cache hits / lookups per kind.", labels=["kind"])
        for kind, figures in cache_summary(self.families).items():
            if figures["ratio"] is not None:
                ratio.add_metric([kind], figures["ratio"])
        yield ratio

        connections = GaugeMetricFamily(
            "winkr_health_redis_pool_connections", "Redis connections of this process' pool, by state.",
            labels=["alias", "state"],
        )
        maximum = GaugeMetricFamily(
            "winkr_health_redis_pool_max_connections", "Redis pool size limit of this process.", labels=["alias"],
        )
        for alias, stats in pool_stats().items():
            connections.add_metric([alias, "in_use"], stats["in_use"])
            connections.add_metric([alias, "idle"], stats["idle"])
            maximum.add_metric([alias], stats["max_connections"])
        yield connections
        yield maximum


class ExportCollector:
    """What /health/metrics exports: the recorded metrics and the scrape-time gauges."""

    def __init__(self) -> None:
        self.families = source_families()

    def collect(self) -> Iterator[Metric]:
        yield from self.families
        yield from ScrapeTimeCollector(self.families).collect()


def prometheus_text() -> bytes:
    return generate_latest(ExportCollector())


def metrics_snapshot() -> dict[str, Any]:
    """The JSON view of the same figures, grouped the way the original design lists them."""
    families = source_families()
    return {
        "timestamp": timestamp(),
        "multiprocess": multiprocess_dir() is not None,
        "redis": redis_summary(families),
        "cache": cache_summary(families),
        "sessions": session_figures(),
        "rate_limit": rate_limit_summary(families),
        "pubsub": pubsub_summary(families),
    }
