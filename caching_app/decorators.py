"""``@cached``: the cache service around a plain function, coroutine function or method.

One decorator serving both kinds of function, branching once on ``iscoroutinefunction``
at decoration time (as ``django/views/decorators/cache.py`` does), never per call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from .service import CacheEntry, CacheService, cache_service

F = TypeVar("F", bound=Callable[..., Any])
KeySpec = str | Callable[..., Any]


class _KeyBuilder:
    """Turns a call's arguments into key parts using a format string or a callable.

    A format string sees the arguments by name (``"{user_id}"``, ``"{self.pk}:{page}"``); a
    callable gets the call's own arguments and returns a string or a tuple of parts.
    """

    def __init__(self, func: Callable[..., Any], spec: KeySpec | None):
        self.spec = spec
        self.signature = inspect.signature(func)
        self.names = tuple(self.signature.parameters)
        self.simple = all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in self.signature.parameters.values()
        )

    def arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        # Fast path for the usual call (every parameter passed positionally): no bind().
        if self.simple and not kwargs and len(args) == len(self.names):
            return dict(zip(self.names, args, strict=True))
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def __call__(self, args: tuple, kwargs: dict) -> tuple:
        if self.spec is None:
            return ()
        if callable(self.spec):
            parts = self.spec(*args, **kwargs)
            return parts if isinstance(parts, tuple) else (parts,)
        return (self.spec.format_map(self.arguments(args, kwargs)),)


def cached(kind: str, key: KeySpec | None = None, ttl: float | None = None, group: KeySpec | None = None,
           service: CacheService | None = None) -> Callable[[F], F]:
    """Cache the function's result under ``kind`` (TTL from ``WINKR_CACHING['TTLS']`` unless ``ttl``).

    ``key`` names the entry within the kind and ``group`` its invalidation group (for example
    ``group="user:{user_id}"``, or use :func:`caching_app.service.user_group` in a callable);
    both are format strings over the arguments or callables taking them. Results must be
    JSON/msgpack-serializable. Misses are stampede-protected; Redis errors run the function.
    The wrapper gains ``entry(*args, **kwargs)`` and ``invalidate(*args, **kwargs)``.
    """

    def decorator(func: F) -> F:
        key_parts = _KeyBuilder(func, key)
        group_parts = _KeyBuilder(func, group) if group is not None else None
        qualname = f"{func.__module__}.{func.__qualname__}"

        def entry(*args: Any, **kwargs: Any) -> CacheEntry:
            group_name = ":".join(map(str, group_parts(args, kwargs))) if group_parts else None
            return (service or cache_service).entry(kind, qualname, *key_parts(args, kwargs), group=group_name)

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await (service or cache_service).aget_or_set(
                entry(*args, **kwargs), lambda: func(*args, **kwargs), ttl)

        async def async_invalidate(*args: Any, **kwargs: Any) -> bool:
            return await (service or cache_service).ainvalidate(entry(*args, **kwargs))

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            return (service or cache_service).get_or_set(entry(*args, **kwargs), lambda: func(*args, **kwargs), ttl)

        def sync_invalidate(*args: Any, **kwargs: Any) -> bool:
            return (service or cache_service).invalidate(entry(*args, **kwargs))

        is_async = inspect.iscoroutinefunction(func)
        wrapper: Any = async_wrapper if is_async else sync_wrapper  # Any: it gains the two attributes below
        wrapper.entry = entry
        wrapper.invalidate = async_invalidate if is_async else sync_invalidate
        return cast(F, wrapper)

    return decorator
