"""The user throttle's check, sent ahead in the JWT revocation round trip.

An authenticated request used to ask Redis twice before the view ran: "is this token revoked?"
(sessions_app.jwt) and "may this user make one more request?" (:class:`~.throttling.UserRateThrottle`).
Both read keys under the user's hash tag, so the second can ride in the first one's pipeline.
:func:`user_throttle` is listed in ``WINKR_JWT["PIPELINED_CHECKS"]``: for a view whose throttles
include an unmodified ``UserRateThrottle`` it queues that throttle's exact Lua check for the token's
user id; the throttle then takes the outcome from the request instead of asking Redis
(:func:`take`), and nothing else changes (same script, same keys, same headers, same 429).

Exactness: the prefetched slot is counted once, by the script, as before. When the throttle does not
use it (a permission check refused the request first, or the user's id differs from the token's),
the revocation middleware calls :meth:`ThrottlePrefetch.finish`, which gives the slot back. A token
refused as revoked keeps its slot: it counts against its own user's limit, which is allowed and costs
an attacker replaying revoked tokens one round trip per request, not two. Redis errors and a NOSCRIPT
reply leave nothing prefetched, and the throttle runs its own check (with its fail-open/closed policy).

:func:`status_peek`, listed there too, does the same for ``GET /api/ratelimit/status/``
(:class:`~.views.RateLimitStatusView`): the user throttle's read-only peek (the script's ``peek`` mode,
which counts nothing) rides in the revocation round trip, and the view's ``apeek`` takes its reply.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from redis.exceptions import RedisError

from .conf import ratelimit_settings
from .limiter import (
    RateLimitConfig,
    RateLimitDecision,
    arelease_rate_limit,
    decision_from_reply,
    queue_check,
    release_rate_limit,
)

logger = logging.getLogger(__name__)

REQUEST_ATTR = "_winkr_throttle_prefetch"
PEEK_ATTR = "_winkr_throttle_peek_prefetch"


class ThrottlePrefetch:
    """One queued check: ``queue`` it on a pipeline, hand it the reply, let the throttle ``take`` it.

    With ``peek``, a read that counts nothing (the status endpoint's): it holds no slot to give back.
    """

    def __init__(self, request: Any, scope: str, configs: tuple[RateLimitConfig, ...], key: str, *,
                 peek: bool = False):
        self.request, self.scope, self.configs, self.key, self.peek = request, scope, configs, key, peek
        self.alias = ratelimit_settings.REDIS_ALIAS  # where the counters live (sessions_app.jwt.pipelined checks it)
        self.token: str | None = None
        self.decision: RateLimitDecision | None = None
        self.taken = False

    def queue(self, pipe: Any) -> int:
        """Add the check to ``pipe``; returns how many replies it will have (one)."""
        self.token = queue_check(pipe, self.configs, self.key, peek=self.peek)
        # Parked on the request, which then holds it: a reference back would be a cycle only the GC frees.
        request, self.request = self.request, None
        setattr(request, PEEK_ATTR if self.peek else REQUEST_ATTR, self)
        return 1

    def receive(self, replies: list[Any]) -> None:
        reply = replies[0]
        if self.token is None:  # receive() follows queue(), which set it
            return
        if isinstance(reply, BaseException):  # NOSCRIPT, or an error inside the script: nothing counted
            logger.debug("Prefetched throttle check of %r not used: %r", self.scope, reply)
            return
        self.decision = decision_from_reply(self.configs, self.key, reply, self.token)

    def take(self, scope: str, configs: tuple[RateLimitConfig, ...], key: str) -> RateLimitDecision | None:
        """The decision, once, if it is exactly the check the throttle was about to make."""
        if self.taken or self.decision is None or (scope, configs, key) != (self.scope, self.configs, self.key):
            return None
        self.taken = True
        return self.decision

    def unused_token(self) -> str | None:
        """The token of a slot the prefetch took and no throttle used (None if there is none)."""
        if self.taken or self.decision is None:
            return None
        return self.decision.token

    def finish(self) -> None:
        """The request is over: give back a slot no throttle used (sync)."""
        token = self.unused_token()
        if token is not None:
            self.taken = True
            try:
                release_rate_limit(self.configs, self.key, token)
            except RedisError as exc:
                logger.warning("Could not give back an unused %r throttle slot: %s", self.scope, exc)

    async def afinish(self) -> None:
        """Async twin of :meth:`finish`."""
        token = self.unused_token()
        if token is not None:
            self.taken = True
            try:
                await arelease_rate_limit(self.configs, self.key, token)
            except RedisError as exc:
                logger.warning("Could not give back an unused %r throttle slot: %s", self.scope, exc)


def take(request: Any, scope: str, configs: tuple[RateLimitConfig, ...], key: str, *, peek: bool = False
         ) -> RateLimitDecision | None:
    """For the throttles: the prefetched decision of exactly this check (or peek), or None (then ask Redis)."""
    prefetch = getattr(getattr(request, "_request", request), PEEK_ATTR if peek else REQUEST_ATTR, None)
    return prefetch.take(scope, configs, key) if prefetch is not None else None


def _view_throttles(view_func: Any) -> list[Any] | None:
    """The throttle classes a DRF view will run, or None when they cannot be known in advance."""
    from rest_framework.views import APIView  # not at import: DRF imports the throttles while defining APIView

    cls = getattr(view_func, "cls", None)
    if cls is None or not issubclass(cls, APIView) or cls.get_throttles is not APIView.get_throttles:
        return None
    return list(getattr(view_func, "initkwargs", {}).get("throttle_classes", cls.throttle_classes))


def _stock_user_throttle(throttle: Any) -> tuple[str, tuple[RateLimitConfig, ...]] | None:
    """``(scope, configs)`` of an unmodified ``UserRateThrottle`` class, whose check is known in advance."""
    from .throttling import RedisRateThrottle, UserRateThrottle, configs_for_scope

    # Only the stock behaviour is known in advance: a subclass changing whom or what it counts is not.
    if not (isinstance(throttle, type) and issubclass(throttle, UserRateThrottle)
            and throttle.get_rate_key is UserRateThrottle.get_rate_key
            and throttle.get_scope is RedisRateThrottle.get_scope
            and throttle.allow_request is RedisRateThrottle.allow_request and throttle.scope):
        return None
    try:
        configs = configs_for_scope(throttle.scope, "user")
    except ImproperlyConfigured:  # the throttle itself reports it, where it always has
        return None
    return (throttle.scope, configs) if configs else None


@lru_cache(maxsize=1024)
def _view_user_throttle(view_func: Any) -> tuple[str, tuple[RateLimitConfig, ...]] | None:
    """``(scope, configs)`` of the view's stock user throttle: worked out once per view (and per settings,
    see below), not on every authenticated request's plan."""
    for throttle in _view_throttles(view_func) or ():
        stock = _stock_user_throttle(throttle)
        if stock is not None:
            return stock
    return None


def user_throttle(request: Any, view_func: Any, user_id: str) -> ThrottlePrefetch | None:
    """A ``WINKR_JWT["PIPELINED_CHECKS"]`` entry: the view's user throttle, for the token's user."""
    stock = _view_user_throttle(view_func)
    return ThrottlePrefetch(request, *stock, user_id) if stock is not None else None


@lru_cache(maxsize=1024)
def _status_view_throttle(view_func: Any) -> tuple[str, tuple[RateLimitConfig, ...]] | None:
    """``(scope, configs)`` of the default user throttle when ``view_func`` is the status endpoint (once per view
    and settings, as :func:`_view_user_throttle`)."""
    from rest_framework.settings import api_settings

    from .views import RateLimitStatusView

    cls = getattr(view_func, "cls", None)
    if cls is None or not issubclass(cls, RateLimitStatusView):
        return None
    for throttle in api_settings.DEFAULT_THROTTLE_CLASSES:
        stock = _stock_user_throttle(throttle)
        if stock is not None:
            return stock
    return None


def status_peek(request: Any, view_func: Any, user_id: str) -> ThrottlePrefetch | None:
    """A ``WINKR_JWT["PIPELINED_CHECKS"]`` entry: the status endpoint's peek at the default user throttle."""
    stock = _status_view_throttle(view_func)
    if stock is None or request.method not in ("GET", "HEAD"):
        return None
    return ThrottlePrefetch(request, *stock, user_id, peek=True)


def _on_setting_changed(**kwargs: Any) -> None:
    # Rates, algorithms and DRF's throttle settings all feed the memo: any change empties it.
    _view_user_throttle.cache_clear()
    _status_view_throttle.cache_clear()


setting_changed.connect(_on_setting_changed, weak=False)
