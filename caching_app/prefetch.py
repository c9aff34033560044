"""A view's cache read, sent ahead in the JWT revocation round trip (``WINKR_JWT["PIPELINED_CHECKS"]``).

An authenticated, cached GET used to ask Redis twice: the revocation check with the user throttle
(one pipeline, sessions_app.jwt.pipelined) and then, in the view, the cache entry with its group's
generation. When the view can name that entry from the token's user id and the URL alone, the read
rides in the same pipeline: the request costs one round trip. A view opts in with a class attribute::

    class MyProfileView(APIView):
        cache_prefetch = staticmethod(lambda user_id, kwargs: cache_service.user_profile_entry(user_id, "private"))

and reads with ``cache_service.lookup(entry, loader, prefetched=prefetch.take(request, entry))``.

Coherence is unchanged: the entry and its generation are read in one MGET, as the service reads them,
a few hundred microseconds earlier; a miss, a stale value or an invalidated group go down the usual
path (lock, re-read under the lock, fill). The prefetch is used only when the entry the view asks for
is exactly the one read ahead, and only when the cache alias and the JWT alias are the same Redis
server and database (sessions_app.jwt.pipelined skips a companion whose ``alias`` is elsewhere).
Errors leave nothing prefetched: the view reads itself, with the service's own degradation to a miss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conf import caching_settings
from .service import CacheEntry, Prefetched, cache_service

REQUEST_ATTR = "_winkr_cache_prefetch"

#: What a view's ``cache_prefetch`` is: (the token's user id, the URL's keyword arguments) -> the entry or None.
PrefetchHook = Callable[[str, dict[str, Any]], CacheEntry | None]


class ReadAhead:
    """A read queued on the revocation pipeline whose reply waits on the request for the code that needs it.

    A ``WINKR_JWT["PIPELINED_CHECKS"]`` companion (sessions_app.jwt.pipelined) that holds nothing: a subclass
    sets ``alias`` (where its keys live), queues one command in :meth:`queue` and keeps its reply in
    :meth:`keep`; the reply is found with :meth:`of` (``request_attr`` names where it waits). An error reply
    keeps nothing: the reader then asks Redis itself, as without the read-ahead.
    """

    request_attr = "_winkr_read_ahead"
    alias: str

    def __init__(self, request: Any):
        self.request = request

    def queue(self, pipe: Any) -> int:
        raise NotImplementedError

    def keep(self, reply: Any) -> None:
        raise NotImplementedError

    def receive(self, replies: list[Any]) -> None:
        # The request is not kept: it holds this read (its companions, then request_attr), and a reference back
        # would be a cycle that only the garbage collector frees.
        request, self.request = self.request, None
        reply = replies[0]
        if isinstance(reply, BaseException):  # the reader asks for itself (and degrades as it always has)
            return
        self.keep(reply)
        setattr(request, self.request_attr, self)

    @classmethod
    def of(cls, request: Any) -> Any:
        """The read-ahead of this class waiting on ``request`` (a Django or DRF request), or None."""
        return getattr(getattr(request, "_request", request), cls.request_attr, None)

    def finish(self) -> None:
        """Nothing to give back: a read holds nothing."""

    async def afinish(self) -> None:
        """Nothing to give back: a read holds nothing."""


class CachePrefetch(ReadAhead):
    """One cache read queued on the revocation pipeline; its reply waits on the request for the view."""

    request_attr = REQUEST_ATTR

    def __init__(self, request: Any, entry: CacheEntry):
        super().__init__(request)
        self.entry = entry
        self.alias = cache_service.alias  # where its keys live: sessions_app.jwt.pipelined checks it is the pipeline's
        self.reply: Prefetched | None = None

    def queue(self, pipe: Any) -> int:
        keys = [self.entry.key] if self.entry.gen_key is None else [self.entry.key, self.entry.gen_key]
        pipe.execute_command("MGET", *keys)  # one slot: the entry and its generation share the group's tag
        return 1

    def keep(self, reply: Any) -> None:
        self.reply = (reply[0], reply[1] if len(reply) > 1 else None)

    def take(self, entry: CacheEntry) -> Prefetched | None:
        """The ``(value, generation)`` read ahead, once, if ``entry`` is the one that was read."""
        reply, self.reply = self.reply, None
        return reply if reply is not None and entry.key == self.entry.key else None


def view_cache_entry(request: Any, view_func: Any, user_id: str) -> CachePrefetch | None:
    """A ``WINKR_JWT["PIPELINED_CHECKS"]`` entry: the cache read of a GET view that names it in advance."""
    hook: PrefetchHook | None = getattr(getattr(view_func, "cls", None), "cache_prefetch", None)
    if hook is None or request.method not in ("GET", "HEAD") or not caching_settings.ENABLED:
        return None
    match = getattr(request, "resolver_match", None)
    entry = hook(user_id, dict(match.kwargs) if match is not None else {})
    return CachePrefetch(request, entry) if entry is not None else None


def take(request: Any, entry: CacheEntry) -> Prefetched | None:
    """For views: the prefetched read of exactly ``entry``, or None (then the service reads it)."""
    prefetch = CachePrefetch.of(request)
    return prefetch.take(entry) if prefetch is not None else None
