"""Rate-limit response headers: IETF ``RateLimit-Policy`` / ``RateLimit``
(draft-ietf-httpapi-ratelimit-headers-11) and the older ``X-RateLimit-*`` trio, plus the draft's
``quota-exceeded`` problem for a 429.

Draft 11 syntax, the same as draft 10's (so -10 clients read it unchanged): both fields are Structured
Field lists (RFC 8941) of String items with Integer parameters::

    RateLimit-Policy: "login-900s";q=5;w=900, "login-86400s";q=20;w=86400
    RateLimit: "login-900s";r=4;t=900, "login-86400s";r=19;t=86400

``q`` quota, ``w`` window (s), ``r`` available quota, ``t`` the *effective window*: -11 renamed -10's
"reset" to "the time within which the client can use no more than ``r``". For a sliding log both
readings are the same number, the seconds until the limit has more room (:attr:`RateLimitResult.wait`);
with nothing counted yet it is the whole window (-10 would have said 0). No ``pk`` (partition key): ours
are client IPs and user ids, which the draft asks servers not to echo.

``X-RateLimit-Limit/Remaining/Reset`` describe the binding limit over every scope of the request
(:func:`~ratelimit_app.limiter.binding_limit`: the fewest remaining), so ``X-RateLimit-Remaining`` is
the number of requests that will pass next. Throttles put the headers in the DRF view's ``headers``
dict, which ``APIView.finalize_response`` copies onto every response of the view, 429s included.
"""

from __future__ import annotations

from typing import Any

from .limiter import RateLimitDecision, RateLimitResult, binding_limit, ceil_seconds

_STORE = "_winkr_ratelimit_decisions"

QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"
QUOTA_EXCEEDED_TITLE = "Request cannot be satisfied as assigned quota has been exceeded"
PROBLEM_JSON = "application/problem+json"


def sf_string(value: str) -> str:
    """An RFC 8941 String: quoted, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def policy_name(scope: str, result: RateLimitResult, decision: RateLimitDecision) -> str:
    return scope if len(decision.results) == 1 else f"{scope}-{result.window}s"


def violated_policies(scope: str, decision: RateLimitDecision) -> list[str]:
    """Names (as in ``RateLimit-Policy``) of the limits that refused this request."""
    return [policy_name(scope, r, decision) for r in decision.results if r.remaining == 0 and r.retry_after > 0]


def effective_window(result: RateLimitResult) -> int:
    """``t``: whole seconds within which no more than ``r`` requests pass (the window when nothing is counted)."""
    return ceil_seconds(result.wait) if result.wait > 0 else ceil_seconds(result.window)


def render(decisions: dict[str, RateLimitDecision]) -> dict[str, str]:
    policies, limits, results = [], [], []
    for scope, decision in decisions.items():
        for result in decision.results:
            name = sf_string(policy_name(scope, result, decision))
            policies.append(f"{name};q={result.limit};w={ceil_seconds(result.window)}")
            limits.append(f"{name};r={result.remaining};t={effective_window(result)}")
            results.append(result)
    if not results:
        return {}
    binding = binding_limit(results)
    return {
        "RateLimit-Policy": ", ".join(policies),
        "RateLimit": ", ".join(limits),
        "X-RateLimit-Limit": str(binding.limit),
        "X-RateLimit-Remaining": str(binding.remaining),
        "X-RateLimit-Reset": str(ceil_seconds(binding.wait)),  # 0: nothing counted, nothing to wait for
    }


def attach(view: Any, scope: str, decision: RateLimitDecision) -> None:
    """Record ``decision`` on the view and refresh its rate-limit headers (all scopes so far)."""
    headers = getattr(view, "headers", None)
    if not isinstance(headers, dict):
        return  # not a DRF view (or no view): nothing to attach the headers to
    decisions = view.__dict__.setdefault(_STORE, {})
    decisions[scope] = decision
    headers.update(render(decisions))
