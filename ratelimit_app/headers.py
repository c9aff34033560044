"""Rate-limit response headers: IETF ``RateLimit-Policy`` / ``RateLimit``
(draft-ietf-httpapi-ratelimit-headers-10) and the older ``X-RateLimit-*`` trio.

Draft 10 syntax, both Structured Field lists of String items with parameters::

    RateLimit-Policy: "login-900s";q=5;w=900, "login-86400s";q=20;w=86400
    RateLimit: "login-900s";r=4;t=900, "login-86400s";r=19;t=86400

``q`` quota, ``w`` window (s), ``r`` remaining, ``t`` seconds until more quota is available.
``X-RateLimit-Limit/Remaining/Reset`` describe the binding limit only (``Reset`` in seconds
from now, like ``t``). Throttles put them in the DRF view's ``headers`` dict, which
``APIView.finalize_response`` copies onto every response of the view, 429s included.
"""

from __future__ import annotations

from typing import Any

from .limiter import RateLimitDecision, RateLimitResult, ceil_seconds

_STORE = "_winkr_ratelimit_decisions"


def sf_string(value: str) -> str:
    """An RFC 8941 String: quoted, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def policy_name(scope: str, result: RateLimitResult, decision: RateLimitDecision) -> str:
    return scope if len(decision.results) == 1 else f"{scope}-{result.window}s"


def render(decisions: dict[str, RateLimitDecision]) -> dict[str, str]:
    policies, limits, candidates = [], [], []
    for scope, decision in decisions.items():
        for result in decision.results:
            name = sf_string(policy_name(scope, result, decision))
            policies.append(f"{name};q={result.limit};w={ceil_seconds(result.window)}")
            limits.append(f"{name};r={result.remaining};t={ceil_seconds(result.reset_after)}")
        candidates.append(decision.binding)
    if not candidates:
        return {}
    denied = [r for r in candidates if not r.allowed]
    binding = (max(denied, key=lambda r: r.retry_after) if denied
               else min(candidates, key=lambda r: (r.remaining / r.limit, -r.reset_after)))
    return {
        "RateLimit-Policy": ", ".join(policies),
        "RateLimit": ", ".join(limits),
        "X-RateLimit-Limit": str(binding.limit),
        "X-RateLimit-Remaining": str(binding.remaining),
        "X-RateLimit-Reset": str(ceil_seconds(max(binding.reset_after, binding.retry_after))),
    }


def attach(view: Any, scope: str, decision: RateLimitDecision) -> None:
    """Record ``decision`` on the view and refresh its rate-limit headers (all scopes so far)."""
    headers = getattr(view, "headers", None)
    if not isinstance(headers, dict):
        return  # not a DRF view (or no view): nothing to attach the headers to
    decisions = view.__dict__.setdefault(_STORE, {})
    decisions[scope] = decision
    headers.update(render(decisions))
