"""User locations in a Redis GEO set, and ``nearby(user, radius_km, limit)``.

Alias: ``cache`` by default (``WINKR_CACHING["GEO_ALIAS"]``). The GEO set is an index
derived from data the database keeps (the demo's ``Profile.latitude/longitude``), so losing
it loses nothing: ``manage.py warm_cache --kind geospatial`` rebuilds it, and clients refresh
their location anyway. Putting it on ``state`` would let a regenerable index compete with
data that must never be evicted, whose server runs ``noeviction`` and refuses writes when full.

A location counts for ``WINKR_CACHING["TTLS"]["geospatial"]`` seconds after its last update
(a GEO member cannot expire on its own, so a companion sorted set records update times and
stale members are pruned, a bounded batch per search). Both keys share one hash tag.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from .conf import caching_settings
from .foundation.connections import get_redis
from .foundation.keys import make_key
from .foundation.scripts import LuaScripts
from .service import CacheUnavailable

# Redis stores positions as 52-bit geohashes in Web Mercator, which cannot reach the poles.
MAX_LATITUDE = 85.05112878
MAX_LONGITUDE = 180.0
PRUNE_BATCH = 500
GEO_SCRIPTS = LuaScripts(Path(__file__).resolve().parent / "lua")


class LocationUnknown(LookupError):
    """The user has no recent location, so there is nothing to search around."""


def validate_coordinates(lat: float, lon: float) -> None:
    """Raise ValueError naming the field when a coordinate is outside what Redis can store."""
    if not -MAX_LATITUDE <= lat <= MAX_LATITUDE:
        msg = f"lat must be between {-MAX_LATITUDE} and {MAX_LATITUDE}."
        raise ValueError(msg)
    if not -MAX_LONGITUDE <= lon <= MAX_LONGITUDE:
        msg = f"lon must be between {-MAX_LONGITUDE} and {MAX_LONGITUDE}."
        raise ValueError(msg)


@dataclass(frozen=True)
class Neighbour:
    user_id: str
    distance_km: float


class LocationIndex:
    """Where users are, for "who is near me"; raises :class:`CacheUnavailable` when Redis fails."""

    namespace = "geo"
    tag = "geo"
    clock = staticmethod(time.time)

    def __init__(self, alias: str | None = None):
        self._alias = alias

    @property
    def client(self) -> Any:
        return get_redis(self._alias or caching_settings.GEO_ALIAS)

    @property
    def locations_key(self) -> str:
        return make_key(self.namespace, "locations", tag=self.tag)

    @property
    def updated_key(self) -> str:
        return make_key(self.namespace, "updated", tag=self.tag)

    @property
    def max_age(self) -> float:
        return caching_settings.TTLS["geospatial"]

    def set_location(self, user_id: object, lat: float, lon: float) -> None:
        validate_coordinates(lat, lon)
        self.set_many([(user_id, lat, lon)])

    def set_many(self, locations: Iterable[tuple[Any, ...]]) -> int:
        """Store ``(user_id, lat, lon)`` or ``(user_id, lat, lon, updated_at)`` in one transaction; idempotent."""
        now = self.clock()
        rows = [(str(row[0]), row[1], row[2], row[3] if len(row) > 3 else now) for row in locations]
        if not rows:
            return 0
        try:
            with self.client.pipeline(transaction=True) as pipe:
                members = [value for user_id, lat, lon, _ in rows for value in (lon, lat, user_id)]
                pipe.geoadd(self.locations_key, members)
                pipe.zadd(self.updated_key, {user_id: updated for user_id, _, _, updated in rows})
                pipe.execute()
        except RedisError as exc:
            msg = f"could not store locations: {exc}"
            raise CacheUnavailable(msg) from exc
        return len(rows)

    def remove(self, user_id: object) -> None:
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(self.locations_key, str(user_id))
                pipe.zrem(self.updated_key, str(user_id))
                pipe.execute()
        except RedisError as exc:
            msg = f"could not remove a location: {exc}"
            raise CacheUnavailable(msg) from exc

    def prune(self, limit: int = PRUNE_BATCH) -> int:
        """Remove up to ``limit`` locations older than the geospatial TTL."""
        client = self.client
        return int(GEO_SCRIPTS.get(client, "geo_prune")(keys=[self.locations_key, self.updated_key],
                                      args=[self.clock() - self.max_age, limit], client=client))

    def position(self, user_id: object) -> tuple[float, float] | None:
        """``(lat, lon)`` of a user's recent location, or None."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.zscore(self.updated_key, str(user_id))
                pipe.geopos(self.locations_key, str(user_id))
                updated, positions = pipe.execute()
        except RedisError as exc:
            msg = f"could not read a location: {exc}"
            raise CacheUnavailable(msg) from exc
        if updated is None or updated < self.clock() - self.max_age or not positions or positions[0] is None:
            return None
        lon, lat = positions[0]
        return lat, lon

    def nearby(self, user_id: object, radius_km: float, limit: int) -> list[Neighbour]:
        """Users within ``radius_km`` of ``user_id``, nearest first, at most ``limit``, never the user."""
        try:
            self.prune()
            if self.position(user_id) is None:
                raise LocationUnknown(user_id)
            rows = self.client.geosearch(
                self.locations_key, member=str(user_id), radius=radius_km, unit="km", sort="ASC",
                count=limit + 1, withdist=True,
            )
        except RedisError as exc:
            msg = f"could not search locations: {exc}"
            raise CacheUnavailable(msg) from exc
        me = str(user_id)
        found = [Neighbour(member.decode(), round(float(distance), 3)) for member, distance in rows]
        return [n for n in found if n.user_id != me][:limit]


location_index = LocationIndex()
