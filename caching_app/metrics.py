"""Cache metrics per kind, as prometheus-client counters, and the hit ratio health_app shows.

Counters (not a home-made tally) so that the figures add up across processes when
``PROMETHEUS_MULTIPROC_DIR`` is set; :func:`cache_stats` reads them back the same way
health_app's exporter does.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter

HITS = Counter("winkr_cache_hits", "Cache reads answered from Redis, per kind.", ["kind"])
MISSES = Counter("winkr_cache_misses", "Cache reads that had to load the value, per kind.", ["kind"])
SETS = Counter("winkr_cache_sets", "Cache entries written, per kind.", ["kind"])
INVALIDATIONS = Counter("winkr_cache_invalidations", "Cache entries or groups invalidated, per kind.", ["kind"])
STALE = Counter("winkr_cache_stale_served", "Expired entries served while another caller recomputed.", ["kind"])
ERRORS = Counter("winkr_cache_errors", "Redis or payload errors degraded to a miss, per kind.", ["kind"])
# Django's cache framework (caching_app.django_cache): entries refused unread, by "missing" or "bad" signature.
UNTRUSTED_PAYLOADS = Counter("winkr_cache_untrusted_payloads",
                             "Django cache entries read as a miss because their signature was missing or bad.",
                             ["reason"])

_COUNTERS = {"hits": HITS, "misses": MISSES, "sets": SETS, "invalidations": INVALIDATIONS,
             "stale_served": STALE, "errors": ERRORS}

# labels() takes a lock and a dict lookup; the read path runs on every request.
_children: dict[tuple[str, str], Any] = {}


def count(name: str, kind: str) -> None:
    child = _children.get((name, kind))
    if child is None:
        child = _children[(name, kind)] = _COUNTERS[name].labels(kind)
    child.inc()


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def cache_stats() -> dict[str, dict[str, float | None]]:
    """``{kind: {"hits", "misses", "sets", "invalidations", "stale_served", "errors", "hit_ratio"}}``.

    ``hit_ratio`` is hits / (hits + misses), or None before the first read of that kind.
    """
    names = {f"winkr_cache_{name}_total": name for name in _COUNTERS}
    stats: dict[str, dict[str, float | None]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0.0))
    for family in _registry().collect():
        for sample in family.samples:
            name = names.get(sample.name)
            if name is not None:
                stats[sample.labels["kind"]][name] += sample.value
    for figures in stats.values():
        reads = figures["hits"] + figures["misses"]
        figures["hit_ratio"] = figures["hits"] / reads if reads else None
    return dict(stats)


def hit_ratios() -> dict[str, float | None]:
    """Hit ratio per kind (None for a kind not read yet), for health_app."""
    return {kind: figures["hit_ratio"] for kind, figures in cache_stats().items()}
