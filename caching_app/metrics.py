"""Cache metrics per kind, as prometheus-client counters.

Counters (not a home-made tally) so that the figures add up across processes when
``PROMETHEUS_MULTIPROC_DIR`` is set; health_app's exporter reads them back (hit ratio per kind).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

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
