"""CacheService: typed cache operations per kind, group invalidation and stampede protection.

Entry layout. A cached value is stored as ``serializer.dumps([generation, fresh_until, value])``
under ``make_key("cache", kind, *parts, tag=group)``; Redis keeps it ``STALE_GRACE`` seconds past
``fresh_until`` so an expired value can be served while one caller recomputes it.

Group invalidation ("everything about user 42") without SCAN/KEYS: each group has a
generation key ``make_key("cachegen", tag=group)`` holding a random token. Entries record
the token current when their value was *read from the source*; a read fetches entry and
token in one MGET (same hash tag, so one slot on Cluster) and treats a mismatch as a miss.
Invalidating a group is one SET of a new token: O(1) however many entries the group has,
nothing to track, and a reader that loaded old data just before the invalidation writes it
under the old token, so it can never resurrect stale data (a per-group set of keys would,
and grows with every write). Tokens are random, never counters, so an evicted or expired
generation key can only turn entries into misses, never make old ones valid again.

Stampede protection: on a miss one caller takes a short Redis lock (redis-py ``Lock``) and
recomputes; the others return the stale value if there is one, else poll for the result for
up to ``LOCK_WAIT`` seconds. Fresh lifetimes get downward jitter (``TTL_JITTER``).

Failure contract: Redis errors on the read path are logged, counted
(``winkr_cache_errors``) and become misses; the loader still runs, so callers never see them.
Only the bulk writer used by warming (:meth:`CacheService.write_many`) raises
:class:`CacheUnavailable`.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError

from . import metrics
from .conf import caching_settings
from .foundation.connections import get_async_redis, get_redis
from .foundation.inputs import bounded_memo
from .foundation.keys import make_key
from .foundation.twins import Call, Invoke, Lock, Op, Pipe, Sleep, arun, run
from .serializers import CacheSerializer, SerializationError

logger = logging.getLogger(__name__)

USER_PROFILE = "user_profile"
PHOTO_METADATA = "photo_metadata"
MATCH_RECOMMENDATIONS = "match_recommendations"
API_RESPONSE = "api_response"
GEOSPATIAL = "geospatial"
KINDS = (USER_PROFILE, PHOTO_METADATA, MATCH_RECOMMENDATIONS, API_RESPONSE, GEOSPATIAL)

HIT, STALE, MISS = "hit", "stale", "miss"
MISSING: Any = object()


#: An entry's stored bytes and its group's generation, as one MGET returns them.
Prefetched = tuple[bytes | None, bytes | None]


class CacheUnavailable(Exception):
    """The cache alias could not be reached (raised only where a caller must know: warming)."""


def user_group(user_id: object) -> str:
    """The invalidation group of everything cached about one user."""
    return f"user:{user_id}"


def _build_entry_keys(prefix: str | None, namespace: str, group_namespace: str, kind: str, parts: tuple,
                group: str | None) -> tuple[str, str | None]:
    # Escaping every part costs a few µs per read, as much as the rest of a cache hit; hot
    # entries repeat, so their keys are memoised (the prefix is in the memo key, as make_key reads it).
    gen_key = make_key(group_namespace, tag=group) if group is not None else None
    return make_key(namespace, kind, *parts, tag=group), gen_key


_entry_keys = bounded_memo(maxsize=8192)(_build_entry_keys)


class CacheEntry:
    """Where one value lives: its kind, key, and (if grouped) its group's generation key."""

    __slots__ = ("kind", "parts", "group", "key", "gen_key", "_lock_key")

    def __init__(self, kind: str, parts: tuple, group: str | None, key: str, gen_key: str | None):
        self.kind, self.parts, self.group, self.key, self.gen_key = kind, parts, group, key, gen_key
        self._lock_key: str | None = None

    @property
    def lock_key(self) -> str:
        if self._lock_key is None:  # only misses need it: built lazily
            self._lock_key = make_key(CacheService.lock_namespace, self.kind, *self.parts, tag=self.group)
        return self._lock_key

    def __repr__(self) -> str:
        return f"CacheEntry({self.key!r})"


class CacheService:
    """Cache operations of the original design, on the ``cache`` alias, with sync/async pairs."""

    namespace = "cache"
    lock_namespace = "cachelock"
    group_namespace = "cachegen"
    # Test seams, in the manner of DRF's SimpleRateThrottle.timer.
    clock: Callable[[], float] = staticmethod(time.time)
    random: Callable[[], float] = staticmethod(random.random)

    def __init__(self, alias: str | None = None):
        self._alias = alias
        self._serializer: CacheSerializer | None = None
        self._serializer_config: tuple | None = None

    # --- configuration (read at call time) ------------------------------------------------
    @property
    def alias(self) -> str:
        return self._alias or caching_settings.ALIAS

    @property
    def enabled(self) -> bool:
        return bool(caching_settings.ENABLED)

    @property
    def serializer(self) -> CacheSerializer:
        config = (caching_settings.SERIALIZER, caching_settings.COMPRESS_MIN_BYTES, caching_settings.COMPRESS_LEVEL)
        if config != self._serializer_config:
            self._serializer = CacheSerializer(*config)
            self._serializer_config = config
        return self._serializer  # type: ignore[return-value]

    def ttl(self, kind: str, ttl: float | None = None) -> float:
        """The configured TTL of ``kind`` (or ``ttl`` when given)."""
        if ttl is not None:
            return ttl
        try:
            return caching_settings.TTLS[kind]
        except KeyError:
            msg = f"No TTL for cache kind {kind!r}: add it to WINKR_CACHING['TTLS'] or pass ttl=."
            raise ImproperlyConfigured(msg) from None

    def fresh_lifetime(self, kind: str, ttl: float | None = None) -> float:
        """TTL with downward jitter, so keys written together do not all expire together."""
        return self.ttl(kind, ttl) * (1.0 - caching_settings.TTL_JITTER * self.random())

    def group_ttl(self, hard_ttl: float) -> int:
        longest = max(caching_settings.TTLS.values(), default=0) + caching_settings.STALE_GRACE
        return int(max(longest, hard_ttl)) + 60

    # --- keys ------------------------------------------------------------------------------
    def entry(self, kind: str, *parts: object, group: str | None = None) -> CacheEntry:
        """The entry of ``kind`` named by ``parts`` (user input is fine: keys are escaped)."""
        try:
            key, gen_key = _entry_keys(caching_settings.KEY_PREFIX, self.namespace, self.group_namespace, kind,
                                       parts, group)
        except TypeError:  # an unhashable part: build the keys without the memo
            key, gen_key = _build_entry_keys(None, self.namespace, self.group_namespace, kind, parts, group)
        return CacheEntry(kind, parts, group, key, gen_key)

    def group_key(self, group: str) -> str:
        return make_key(self.group_namespace, tag=group)

    # --- decoding shared by both twins ---------------------------------------------------------
    def _decode(self, entry: CacheEntry, raw: bytes | None, gen: bytes | None) -> tuple[str, Any]:
        if raw is None:
            return MISS, None
        try:
            stored_gen, fresh_until, value = self.serializer.loads(raw)
        except (SerializationError, ValueError, TypeError) as exc:
            logger.warning("Unreadable cache entry %s treated as a miss: %s", entry.key, exc)
            metrics.count("errors", entry.kind)
            return MISS, None
        if entry.gen_key is not None and (gen is None or stored_gen != gen.decode()):
            return MISS, None  # its group was invalidated after the value was read
        return (HIT if fresh_until >= self.clock() else STALE), value

    def _payload(self, entry: CacheEntry, value: Any, ttl: float | None, gen: str) -> tuple[bytes, int]:
        fresh = self.fresh_lifetime(entry.kind, ttl)
        payload = self.serializer.dumps([gen, self.clock() + fresh, value])
        return payload, int((fresh + caching_settings.STALE_GRACE) * 1000)

    def _degraded(self, entry: CacheEntry | None, kind: str, exc: Exception) -> None:
        logger.warning("Cache alias %r failed for %s, treated as a miss: %r", self.alias, entry or kind, exc)
        metrics.count("errors", kind)

    # --- operations, written once for both twins (caching_app.foundation.twins) ---------------
    def _read_op(self, entry: CacheEntry, prefetched: Prefetched | None = None) -> Op:
        if prefetched is not None:  # read ahead in the request's first round trip (caching_app.prefetch)
            raw, gen = prefetched
        elif entry.gen_key is None:
            raw, gen = (yield Call("get", (entry.key,))), None
        else:
            raw, gen = yield Call("mget", ((entry.key, entry.gen_key),))
        state, value = self._decode(entry, raw, gen)
        return state, value, gen

    def _current_gen_op(self, entry: CacheEntry, gen: bytes | None) -> Op:
        """The group's token, creating one if the group has none yet (so entries never carry "")."""
        if entry.gen_key is None:
            return ""
        if gen is not None:
            return gen.decode()
        replies = yield Pipe((Call("set", (entry.gen_key, uuid.uuid4().hex), {"nx": True, "ex": self.group_ttl(0)}),
                              Call("get", (entry.gen_key,))))
        return replies[1].decode()

    def _write_op(self, entry: CacheEntry, value: Any, ttl: float | None, gen: str) -> Op:
        payload, hard_ms = self._payload(entry, value, ttl, gen)
        store = Call("set", (entry.key, payload), {"px": hard_ms})
        if entry.gen_key is None:
            yield store
        else:
            yield Pipe((store, Call("expire", (entry.gen_key, self.group_ttl(hard_ms / 1000)))))
        metrics.count("sets", entry.kind)
        return True

    def _get_op(self, entry: CacheEntry, default: Any) -> Op:
        if not self.enabled:
            return default
        try:
            state, value, _ = yield from self._read_op(entry)
        except RedisError as exc:
            self._degraded(entry, entry.kind, exc)
            state = MISS
        if state == HIT:
            metrics.count("hits", entry.kind)
            return value
        metrics.count("misses", entry.kind)
        return default

    def _set_op(self, entry: CacheEntry, value: Any, ttl: float | None) -> Op:
        if not self.enabled:
            return False
        try:
            gen = None if entry.gen_key is None else (yield Call("get", (entry.gen_key,)))
            token = yield from self._current_gen_op(entry, gen)
            return (yield from self._write_op(entry, value, ttl, token))
        except RedisError as exc:
            self._degraded(entry, entry.kind, exc)
            return False

    def _lookup_op(self, entry: CacheEntry, loader: Callable[[], Any], ttl: float | None,
                   prefetched: Prefetched | None = None) -> Op:
        if not self.enabled:
            return (yield Invoke(loader)), False
        try:
            state, value, gen = yield from self._read_op(entry, prefetched)
        except RedisError as exc:
            self._degraded(entry, entry.kind, exc)
            return (yield Invoke(loader)), False
        if state == HIT:
            metrics.count("hits", entry.kind)
            return value, True
        metrics.count("misses", entry.kind)
        return (yield from self._fill_op(entry, loader, ttl, value if state == STALE else MISSING))

    def _fill_op(self, entry: CacheEntry, loader: Callable[[], Any], ttl: float | None, stale: Any) -> Op:
        lock, acquired = None, False
        try:
            lock = yield Lock(entry.lock_key, caching_settings.LOCK_TIMEOUT)
            acquired = yield Call("acquire", on=lock)
            if not acquired and stale is not MISSING:
                metrics.count("stale_served", entry.kind)
                return stale, True
            deadline, delay, gen = time.monotonic() + caching_settings.LOCK_WAIT, 0.005, None
            while not acquired and time.monotonic() < deadline:
                yield Sleep(delay)
                delay = min(delay * 2, 0.05)
                state, value, gen = yield from self._read_op(entry)
                if state == HIT:
                    return value, True
                acquired = yield Call("acquire", on=lock)
            if acquired:
                # Re-read under the lock: the previous holder may have stored it after our read.
                state, value, gen = yield from self._read_op(entry)
                if state == HIT:
                    yield from self._release_op(lock)
                    return value, True
            else:
                logger.warning("Waited %.1fs for %s to be computed elsewhere; computing it here",
                               caching_settings.LOCK_WAIT, entry.key)
            token = yield from self._current_gen_op(entry, gen)  # fixed before loading: see the module docstring
        except RedisError as exc:
            self._degraded(entry, entry.kind, exc)
            if acquired:
                yield from self._release_op(lock)
            return (yield Invoke(loader)), False
        try:
            value = yield Invoke(loader)
            # Store before releasing the lock, or a waiter could take it, miss, and load again.
            try:
                yield from self._write_op(entry, value, ttl, token)
            except RedisError as exc:
                self._degraded(entry, entry.kind, exc)
        finally:
            if acquired:
                yield from self._release_op(lock)
        return value, False

    @staticmethod
    def _release_op(lock: Any) -> Op:
        try:
            yield Call("release", on=lock)
        except RedisError:  # LockError included: it expired while loading, or Redis went away
            pass

    def _invalidate_op(self, entry: CacheEntry) -> Op:
        try:
            yield Call("delete", (entry.key,))
        except RedisError as exc:
            self._degraded(entry, entry.kind, exc)
            return False
        metrics.count("invalidations", entry.kind)
        return True

    def _invalidate_group_op(self, group: str) -> Op:
        try:
            yield Call("set", (self.group_key(group), uuid.uuid4().hex), {"ex": self.group_ttl(0)})
        except RedisError as exc:
            self._degraded(None, "group", exc)
            return False
        metrics.count("invalidations", "group")
        return True

    def _client(self) -> Any:
        return get_redis(self.alias)

    def _aclient(self) -> Any:
        return get_async_redis(self.alias)

    # --- sync API ------------------------------------------------------------------------------
    def get(self, entry: CacheEntry, default: Any = None) -> Any:
        """The fresh cached value, or ``default`` (also when Redis fails)."""
        return run(self._get_op(entry, default), self._client)

    def set(self, entry: CacheEntry, value: Any, ttl: float | None = None) -> bool:
        """Store ``value``; False if caching is off or Redis failed.

        Prefer :meth:`get_or_set`, which records the group token *before* loading and so can
        never store data an invalidation has already replaced.
        """
        return run(self._set_op(entry, value, ttl), self._client)

    def get_or_set(self, entry: CacheEntry, loader: Callable[[], Any], ttl: float | None = None) -> Any:
        """The cached value, or ``loader()``'s result cached; one caller per key computes at a time."""
        return self.lookup(entry, loader, ttl)[0]

    def lookup(self, entry: CacheEntry, loader: Callable[[], Any], ttl: float | None = None, *,
               prefetched: Prefetched | None = None) -> tuple[Any, bool]:
        """:meth:`get_or_set` that also says whether the value came from the cache.

        ``prefetched``: the entry's ``(value, generation)`` already read in this request's first round
        trip (:func:`caching_app.prefetch.take`); a hit then costs no round trip of its own.
        """
        return run(self._lookup_op(entry, loader, ttl, prefetched), self._client)

    def invalidate(self, entry: CacheEntry) -> bool:
        """Delete one entry (no stale copy survives). False if Redis failed."""
        return run(self._invalidate_op(entry), self._client)

    def invalidate_group(self, group: str) -> bool:
        """Invalidate every entry of ``group`` at once (one SET of a new token)."""
        return run(self._invalidate_group_op(group), self._client)

    def write_many(self, items: Iterable[tuple[CacheEntry, Any]], ttl: float | None = None) -> int:
        """Store many entries in two round trips; raises :class:`CacheUnavailable` (for warming)."""
        items = list(items)
        if not items or not self.enabled:
            return 0
        client = get_redis(self.alias)
        try:
            gen_keys = sorted({entry.gen_key for entry, _ in items if entry.gen_key is not None})
            tokens: dict[str, str] = {}
            if gen_keys:
                with client.pipeline(transaction=False) as pipe:
                    for gen_key in gen_keys:
                        pipe.set(gen_key, uuid.uuid4().hex, nx=True, ex=self.group_ttl(0))
                        pipe.get(gen_key)
                    replies = pipe.execute()
                tokens = {key: reply.decode() for key, reply in zip(gen_keys, replies[1::2], strict=True)}
            with client.pipeline(transaction=False) as pipe:
                for entry, value in items:
                    payload, hard_ms = self._payload(entry, value, ttl, tokens.get(entry.gen_key or "", ""))
                    pipe.set(entry.key, payload, px=hard_ms)
                pipe.execute()
        except RedisError as exc:
            msg = f"Redis alias {self.alias!r} failed: {exc}"
            raise CacheUnavailable(msg) from exc
        for entry, _ in items:
            metrics.count("sets", entry.kind)
        return len(items)

    # --- async API: the same operations, driven with the event loop's client ------------------
    async def aget(self, entry: CacheEntry, default: Any = None) -> Any:
        return await arun(self._get_op(entry, default), self._aclient)

    async def aset(self, entry: CacheEntry, value: Any, ttl: float | None = None) -> bool:
        return await arun(self._set_op(entry, value, ttl), self._aclient)

    async def aget_or_set(self, entry: CacheEntry, loader: Callable[[], Awaitable[Any]],
                          ttl: float | None = None) -> Any:
        return (await self.alookup(entry, loader, ttl))[0]

    async def alookup(self, entry: CacheEntry, loader: Callable[[], Awaitable[Any]],
                      ttl: float | None = None, *, prefetched: Prefetched | None = None) -> tuple[Any, bool]:
        return await arun(self._lookup_op(entry, loader, ttl, prefetched), self._aclient)

    async def ainvalidate(self, entry: CacheEntry) -> bool:
        return await arun(self._invalidate_op(entry), self._aclient)

    async def ainvalidate_group(self, group: str) -> bool:
        return await arun(self._invalidate_group_op(group), self._aclient)

    # --- the original design's operations, one kind each -------------------------------------
    def user_profile_entry(self, user_id: object, view: str = "public") -> CacheEntry:
        return self.entry(USER_PROFILE, user_id, view, group=user_group(user_id))

    def cache_user_profile(self, user_id: object, profile: Any) -> bool:
        return self.set(self.user_profile_entry(user_id), profile)

    def get_user_profile(self, user_id: object) -> Any:
        return self.get(self.user_profile_entry(user_id))

    def invalidate_user_profile(self, user_id: object) -> bool:
        return self.invalidate(self.user_profile_entry(user_id))

    def photo_metadata_entry(self, user_id: object) -> CacheEntry:
        return self.entry(PHOTO_METADATA, user_id, group=user_group(user_id))

    def cache_photo_metadata(self, user_id: object, photos: Any) -> bool:
        return self.set(self.photo_metadata_entry(user_id), photos)

    def get_photo_metadata(self, user_id: object) -> Any:
        return self.get(self.photo_metadata_entry(user_id))

    def invalidate_photo_metadata(self, user_id: object) -> bool:
        return self.invalidate(self.photo_metadata_entry(user_id))

    def match_recommendations_entry(self, user_id: object) -> CacheEntry:
        return self.entry(MATCH_RECOMMENDATIONS, user_id, group=user_group(user_id))

    def cache_match_recommendations(self, user_id: object, recommendations: Any) -> bool:
        return self.set(self.match_recommendations_entry(user_id), recommendations)

    def get_match_recommendations(self, user_id: object) -> Any:
        return self.get(self.match_recommendations_entry(user_id))

    def invalidate_match_recommendations(self, user_id: object) -> bool:
        return self.invalidate(self.match_recommendations_entry(user_id))

    def api_response_entry(self, key: str, group: str | None = None) -> CacheEntry:
        return self.entry(API_RESPONSE, key, group=group)

    def cache_api_response(self, key: str, response: Any, group: str | None = None) -> bool:
        return self.set(self.api_response_entry(key, group), response)

    def get_api_response(self, key: str, group: str | None = None) -> Any:
        return self.get(self.api_response_entry(key, group))

    def invalidate_api_response(self, key: str, group: str | None = None) -> bool:
        return self.invalidate(self.api_response_entry(key, group))

    def geospatial_entry(self, key: str, group: str | None = None) -> CacheEntry:
        return self.entry(GEOSPATIAL, key, group=group)

    def cache_geospatial(self, key: str, data: Any, group: str | None = None) -> bool:
        return self.set(self.geospatial_entry(key, group), data)

    def get_geospatial(self, key: str, group: str | None = None) -> Any:
        return self.get(self.geospatial_entry(key, group))

    def invalidate_geospatial(self, key: str, group: str | None = None) -> bool:
        return self.invalidate(self.geospatial_entry(key, group))

    def invalidate_user(self, user_id: object) -> bool:
        """Everything cached about one user (profile, photos, recommendations, grouped responses)."""
        return self.invalidate_group(user_group(user_id))


cache_service = CacheService()
