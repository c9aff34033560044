"""DRF throttles on the Lua limiter: exact under concurrency, one round trip per check.

Use them in ``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]`` or a view's ``throttle_classes``.
Rates come from ``WINKR_RATELIMIT["RATES"][scope]`` (or DRF's ``DEFAULT_THROTTLE_RATES``),
read on every request so ``override_settings`` reaches them; a scope may have several rates
(``["10/s", "1000/day"]``), checked in one atomic call: a request is counted in all of them
or in none, and the one that binds decides.

Differences from DRF's ``SimpleRateThrottle`` (read-modify-write of a timestamp list in the
cache, which lets concurrent requests through and costs O(limit) per check):

- a refused request raises :class:`~ratelimit_app.exceptions.RateLimitExceeded` (429 naming the
  scope and rate, ``Retry-After``) from ``allow_request`` instead of returning ``False``, so
  throttles listed after it are not charged for a request that is refused anyway;
- every response of the view carries ``RateLimit-Policy``, ``RateLimit`` and ``X-RateLimit-*``;
- when Redis is unreachable the scope fails open (allowed, logged, counted) or closed (503).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import lru_cache
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from caching_app.foundation.twins import Op, Twin, arun, run

from . import headers, prefetch
from .client_ip import get_client_ip
from .conf import ratelimit_settings
from .exceptions import RateLimitExceeded, RateLimitUnavailable
from .identity import login_username
from .limiter import (
    RateLimitConfig,
    RateLimitDecision,
    acheck_rate_limits,
    aget_rate_limit_statuses,
    ceil_seconds,
    check_rate_limits,
    get_rate_limit_statuses,
    release_rate_limit,
)
from .metrics import REDIS_ERRORS, REJECTIONS, count_check
from .rates import InvalidRate, Rate, parse_rates

logger = logging.getLogger(__name__)

_RESERVATIONS = "winkr_ratelimit_reservations"
NO_CLIENT = None  # the throttle's one step is a Twin, which brings its own client


def rates_for_scope(scope: str) -> tuple[Rate, ...] | None:
    """The rates of ``scope`` (``None``: configured as unlimited). Raises ImproperlyConfigured if unset."""
    configured = ratelimit_settings.RATES
    if scope in configured:
        value, source = configured[scope], f"WINKR_RATELIMIT['RATES'][{scope!r}]"
    elif scope in (api_settings.DEFAULT_THROTTLE_RATES or {}):
        value, source = api_settings.DEFAULT_THROTTLE_RATES[scope], f"DEFAULT_THROTTLE_RATES[{scope!r}]"
    else:
        msg = f"No rate set for throttle scope {scope!r}: add it to WINKR_RATELIMIT['RATES'] (e.g. '100/min')."
        raise ImproperlyConfigured(msg)
    if value is None:
        return None
    try:
        return parse_rates(value)
    except InvalidRate as exc:
        msg = f"{source}: {exc}"
        raise ImproperlyConfigured(msg) from exc


@lru_cache(maxsize=256)
def configs_for_scope(scope: str, key_type: str) -> tuple[RateLimitConfig, ...] | None:
    """The limits of ``scope``: looked up once per scope and settings (emptied on ``setting_changed``),
    as every throttled request asks for them (an unknown scope raises each time, uncached)."""
    rates = rates_for_scope(scope)
    if rates is None:
        return None
    algorithm = ratelimit_settings.ALGORITHMS.get(scope, ratelimit_settings.ALGORITHM)
    return _configs(scope, key_type, rates, algorithm)


@lru_cache(maxsize=256)
def _configs(scope: str, key_type: str, rates: tuple[Rate, ...], algorithm: str) -> tuple[RateLimitConfig, ...]:
    # Built once per configuration, not per request: settings changes give new arguments.
    return tuple(RateLimitConfig(rate.requests, rate.window, endpoint=scope, key_type=key_type, algorithm=algorithm)
                 for rate in rates)


def _on_setting_changed(**kwargs: Any) -> None:
    configs_for_scope.cache_clear()  # rates and algorithms come from WINKR_RATELIMIT and REST_FRAMEWORK


setting_changed.connect(_on_setting_changed, weak=False)


def fails_open(scope: str) -> bool:
    return bool(ratelimit_settings.FAIL_OPEN) and scope not in ratelimit_settings.FAIL_CLOSED_SCOPES


class RedisRateThrottle(BaseThrottle):
    """Base throttle: subclasses say which scope applies and whom to count (two hooks)."""

    scope: str | None = None

    def __init__(self) -> None:
        self.decision: RateLimitDecision | None = None

    # --- hooks ---------------------------------------------------------------------------
    def get_scope(self, request: Any, view: Any) -> str | None:
        """The scope whose rates apply, or ``None`` for "not my concern"."""
        return self.scope

    def get_rate_key(self, request: Any, view: Any) -> tuple[str, str] | None:
        """``(key_type, key)`` to count this request under, or ``None`` to not throttle it."""
        msg = ".get_rate_key() must be overridden"
        raise NotImplementedError(msg)

    # --- DRF throttle API ----------------------------------------------------------------
    def allow_request(self, request: Any, view: Any) -> bool:
        target = self._target(request, view)
        return True if target is None else run(self._allow_op(request, view, target), NO_CLIENT)

    async def aallow_request(self, request: Any, view: Any) -> bool:
        """:meth:`allow_request` on the event loop (caching_app.async_views), with the async client.

        A subclass that overrides a hook may do I/O in it: its sync ``allow_request`` then runs in a
        thread, as DRF would run it.
        """
        if not self._loop_safe():
            return await sync_to_async(self.allow_request)(request, view)
        # Not this throttle's concern (the anonymous throttle for a signed-in user, a view without a scope):
        # answered before any operation is built, as most throttles of most requests are.
        target = self._target(request, view)
        return True if target is None else await arun(self._allow_op(request, view, target), NO_CLIENT)

    def _allow_op(self, request: Any, view: Any, target: tuple[str, tuple[RateLimitConfig, ...], str]) -> Op:
        """The one logic of both paths (caching_app.foundation.twins) for a request this throttle counts:
        the check is their only step."""
        scope, configs, key = target
        count_check(scope)
        # Already answered when the JWT revocation round trip carried this exact check (prefetch.py).
        decision = prefetch.take(request, scope, configs, key)
        if decision is None:
            try:
                decision = yield Twin(check_rate_limits, acheck_rate_limits, (configs, key))
            except RedisError as exc:
                return self._redis_failed(scope, exc)
        return self._decided(request, view, target, decision)

    def _loop_safe(self) -> bool:
        """True when every hook is one of this module's (none reads more than the request's user and IP)."""
        cls = type(self)
        return (cls.allow_request is RedisRateThrottle.allow_request and cls.on_allowed is RedisRateThrottle.on_allowed
                and cls.get_scope in _LOOP_SAFE_HOOKS and cls.get_rate_key in _LOOP_SAFE_HOOKS)

    def _decided(self, request: Any, view: Any, target: tuple[str, tuple[RateLimitConfig, ...], str],
                 decision: RateLimitDecision) -> bool:
        """Both paths from the decision on: headers, 429, the allowed hook."""
        scope, configs, key = target
        self.decision = decision
        if ratelimit_settings.HEADERS:
            headers.attach(view, scope, decision)
        if not decision.allowed:
            REJECTIONS.labels(scope).inc()
            binding = decision.binding
            rate = _rate_text(binding.config)
            raise RateLimitExceeded(scope, rate, max(ceil_seconds(decision.retry_after), 1),
                                    headers.violated_policies(scope, decision))
        self.on_allowed(request, view, scope, configs, key, decision)
        return True

    def wait(self) -> float | None:
        return self.decision.retry_after if self.decision is not None else None

    def peek(self, request: Any, view: Any) -> tuple[str, RateLimitDecision] | None:
        """``(scope, decision)`` for this request without counting it (the status endpoint)."""
        return run(self._peek_op(request, view), NO_CLIENT)

    async def apeek(self, request: Any, view: Any) -> tuple[str, RateLimitDecision] | None:
        """:meth:`peek` on the event loop (a subclass with hooks of its own: in a thread)."""
        if not self._loop_safe():
            return await sync_to_async(self.peek)(request, view)
        return await arun(self._peek_op(request, view), NO_CLIENT)

    def _peek_op(self, request: Any, view: Any) -> Op:
        target = self._target(request, view)
        if target is None:
            return None
        scope, configs, key = target
        # Already read when the JWT revocation round trip carried this exact peek (prefetch.status_peek).
        decision = prefetch.take(request, scope, configs, key, peek=True)
        if decision is None:
            decision = yield Twin(get_rate_limit_statuses, aget_rate_limit_statuses, (configs, key))
        return scope, decision

    def on_allowed(self, request: Any, view: Any, scope: str, configs: tuple[RateLimitConfig, ...], key: str,
                   decision: RateLimitDecision) -> None:
        """Called after a request was counted (the login throttle remembers its slot here)."""

    # --- internals -----------------------------------------------------------------------
    def _target(self, request: Any, view: Any) -> tuple[str, tuple[RateLimitConfig, ...], str] | None:
        scope = self.get_scope(request, view)
        if scope is None:
            return None
        rate_key = self.get_rate_key(request, view)
        if rate_key is None:
            return None
        key_type, key = rate_key
        configs = configs_for_scope(scope, key_type)
        if configs is None:
            return None
        return scope, configs, key

    def _redis_failed(self, scope: str, exc: RedisError) -> bool:
        if fails_open(scope):
            REDIS_ERRORS.labels(scope, "open").inc()
            logger.warning("Rate limit %r not checked, Redis unreachable (failing open): %s", scope, exc)
            return True
        REDIS_ERRORS.labels(scope, "closed").inc()
        logger.error("Rate limit %r not checked, Redis unreachable (failing closed): %s", scope, exc)
        raise RateLimitUnavailable(scope) from exc


def _rate_text(config: RateLimitConfig) -> str:
    for rate in rates_for_scope(config.endpoint) or ():
        if (rate.requests, rate.window) == (config.requests, config.window):
            return rate.text
    return f"{config.requests}/{config.window}s"


def _given_back(result: Any) -> Any:
    remaining = min(result.remaining + 1, result.limit)
    return replace(result, remaining=remaining, reset_after=0.0 if remaining == result.limit else result.reset_after)


def _user_key(request: Any) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return None


class UserRateThrottle(RedisRateThrottle):
    """Authenticated users, per user id (scope ``user``)."""

    scope = "user"

    def get_rate_key(self, request: Any, view: Any) -> tuple[str, str] | None:
        user_key = _user_key(request)
        return ("user", user_key) if user_key is not None else None


class AnonRateThrottle(RedisRateThrottle):
    """Anonymous requests, per client IP (scope ``anon``)."""

    scope = "anon"

    def get_rate_key(self, request: Any, view: Any) -> tuple[str, str] | None:
        if _user_key(request) is not None:
            return None
        return "ip", get_client_ip(request)


class ScopedRateThrottle(RedisRateThrottle):
    """Per endpoint: views set ``throttle_scope = "uploads"``; counted per user, else per IP."""

    scope_attr = "throttle_scope"

    def get_scope(self, request: Any, view: Any) -> str | None:
        return getattr(view, self.scope_attr, None)

    def get_rate_key(self, request: Any, view: Any) -> tuple[str, str] | None:
        user_key = _user_key(request)
        return ("user", user_key) if user_key is not None else ("ip", get_client_ip(request))


# The hooks aallow_request may call on the event loop: they read the request's user and client IP only.
_LOOP_SAFE_HOOKS = frozenset({RedisRateThrottle.get_scope, ScopedRateThrottle.get_scope, UserRateThrottle.get_rate_key,
                              AnonRateThrottle.get_rate_key, ScopedRateThrottle.get_rate_key})


class LoginRateThrottle(RedisRateThrottle):
    """Brute-force protection for the login endpoint: failed attempts per client IP + username.

    A slot is taken atomically *before* the password is checked, so parallel guesses cannot
    slip past the limit; a login that succeeds gives its slot back, so people who type their
    password right are never locked out by their own logins. In the login view::

        throttle_classes = [LoginRateThrottle, ...]

        def post(self, request, *args, **kwargs):
            response = super().post(request, *args, **kwargs)  # raises on bad credentials
            LoginRateThrottle.release(request)  # success: it was not a failed attempt
            return response

    Scope ``login`` (default ``["5/15m", "20/day"]``), fails closed (503) when Redis is down.
    The username comes from ``request.data[WINKR_RATELIMIT["LOGIN_USERNAME_FIELD"]]``
    (override :meth:`get_username` for other shapes), canonicalised by :func:`login_username`;
    a username longer than the user model's field is a 400 before anything is counted.
    """

    scope = "login"

    def get_username(self, request: Any) -> str:
        """The request's username, bounded and canonical (:func:`login_username`)."""
        data = getattr(request, "data", None)
        if data is None:  # a Django form view (the admin login), not a DRF request
            data = getattr(request, "POST", None)
        if data is None or not hasattr(data, "get"):
            return login_username("")
        return login_username(data.get(ratelimit_settings.LOGIN_USERNAME_FIELD, ""))

    @classmethod
    def make_key(cls, ip: str, username: str) -> str:
        """The limiter key of one IP + username (also what ``manage.py ratelimit`` takes)."""
        return f"{ip} {login_username(username)}"

    def get_rate_key(self, request: Any, view: Any) -> tuple[str, str] | None:
        return "custom", self.make_key(get_client_ip(request), self.get_username(request))

    def on_allowed(self, request: Any, view: Any, scope: str, configs: tuple[RateLimitConfig, ...], key: str,
                   decision: RateLimitDecision) -> None:
        http_request = getattr(request, "_request", request)
        reservations = http_request.__dict__.setdefault(_RESERVATIONS, {})
        reservations[scope] = (configs, key, decision, view)

    @classmethod
    def release(cls, request: Any, scope: str | None = None) -> bool:
        """Give back the slot this request took (call when the login succeeded).

        Returns ``False`` if there was nothing to give back (not throttled, already released,
        or Redis unreachable: then the attempt simply stays counted).
        """
        scope = scope or cls.scope
        http_request = getattr(request, "_request", request)
        reservation = http_request.__dict__.get(_RESERVATIONS, {}).pop(scope, None)
        if reservation is None:
            return False
        configs, key, decision, view = reservation
        try:
            release_rate_limit(configs, key, decision.token)
        except RedisError as exc:
            logger.warning("Could not give back the login slot of %r: %s", scope, exc)
            return False
        if ratelimit_settings.HEADERS:
            results = tuple(_given_back(result) for result in decision.results)
            headers.attach(view, scope, replace(decision, results=results))
        return True
