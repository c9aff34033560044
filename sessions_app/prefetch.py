"""The device list's index read, sent ahead in the JWT revocation round trip (``WINKR_JWT["PIPELINED_CHECKS"]``).

``GET /api/sessions/`` reads the user's device index, then the listed sessions' hashes: two round trips
after the revocation check. The index lives under the user's hash tag, as the revocation markers do, so
:func:`session_list` (listed in the setting) queues its read in the revocation pipeline and
:func:`~sessions_app.services.alist_sessions` starts from that reply: two round trips in all. The index is
read a few hundred microseconds earlier than the listing would read it, as one more step of the same
listing (expired entries are still trimmed by score, and every hash is still read and checked).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from caching_app.prefetch import ReadAhead

from .conf import sessions_settings
from .device_steps import index_read


class SessionIndexPrefetch(ReadAhead):
    """The token's user's device index (``ZRANGE ... WITHSCORES``), read ahead for the device list."""

    request_attr = "_winkr_session_index_prefetch"

    def __init__(self, request: Any, user_id: str):
        super().__init__(request)
        self.user_id = user_id
        self.alias = sessions_settings.REDIS_ALIAS
        self.entries: list[tuple[bytes, float]] | None = None

    def queue(self, pipe: Any) -> int:
        read = index_read(self.user_id)
        getattr(pipe, read.method)(*read.args, **read.kwargs)
        return 1

    def keep(self, reply: Any) -> None:
        self.entries = [(member, float(score)) for member, score in reply]

    def take(self, user_id: object) -> list[tuple[bytes, float]] | None:
        """The entries read ahead, once, if they are ``user_id``'s."""
        entries, self.entries = self.entries, None
        return entries if entries is not None and str(user_id) == self.user_id else None


@lru_cache(maxsize=1024)
def _lists_sessions(view_func: Any) -> bool:
    """Whether ``view_func`` is the device list (asked by every authenticated request's plan: answered once)."""
    from .views import SessionListView

    cls = getattr(view_func, "cls", None)
    return cls is not None and issubclass(cls, SessionListView)


def session_list(request: Any, view_func: Any, user_id: str) -> SessionIndexPrefetch | None:
    """A ``WINKR_JWT["PIPELINED_CHECKS"]`` entry: the device list's index read, for the token's user."""
    if request.method not in ("GET", "HEAD") or not _lists_sessions(view_func):
        return None
    return SessionIndexPrefetch(request, user_id)


def take(request: Any, user_id: object) -> list[tuple[bytes, float]] | None:
    """For the device list: the index entries read ahead for ``user_id``, or None (then it reads them)."""
    prefetch = SessionIndexPrefetch.of(request)
    return prefetch.take(user_id) if prefetch is not None else None
