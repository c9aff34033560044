"""Warmers for ``manage.py warm_cache`` (registered in WINKR_CACHING["WARMERS"])."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from caching_app.conf import caching_settings
from caching_app.geo import location_index
from caching_app.service import cache_service
from caching_app.warming import Warmer

from . import matching
from .models import Photo, Profile
from .serializers import PhotoSerializer, PublicProfileSerializer


def _chunks(queryset: QuerySet, limit: int | None, size: int) -> Iterator[list[Any]]:
    rows = queryset[:limit] if limit else queryset
    chunk: list[Any] = []
    for row in rows.iterator(chunk_size=size):
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count(queryset: QuerySet, limit: int | None) -> int:
    total = queryset.count()
    return min(total, limit) if limit else total


class ProfileWarmer(Warmer):
    kind = "user_profile"

    def queryset(self) -> QuerySet:
        return Profile.objects.order_by("user_id")

    def count(self, limit: int | None) -> int:
        return _count(self.queryset(), limit)

    def batches(self, limit: int | None, batch_size: int) -> Iterator[int]:
        for chunk in _chunks(self.queryset(), limit, batch_size):
            yield cache_service.write_many(
                (cache_service.user_profile_entry(p.user_id), PublicProfileSerializer(p).data) for p in chunk)


class PhotoMetadataWarmer(ProfileWarmer):
    kind = "photo_metadata"

    def batches(self, limit: int | None, batch_size: int) -> Iterator[int]:
        for chunk in _chunks(self.queryset(), limit, batch_size):
            photos: dict[int, list] = {p.user_id: [] for p in chunk}
            for photo in Photo.objects.filter(user_id__in=photos):
                photos[photo.user_id].append(photo)
            yield cache_service.write_many(
                (cache_service.photo_metadata_entry(user_id), PhotoSerializer(items, many=True).data)
                for user_id, items in photos.items())


class RecommendationsWarmer(ProfileWarmer):
    kind = "match_recommendations"

    def batches(self, limit: int | None, batch_size: int) -> Iterator[int]:
        for chunk in _chunks(self.queryset(), limit, batch_size):
            yield cache_service.write_many(
                (cache_service.match_recommendations_entry(p.user_id), matching.recommendations(p.user_id))
                for p in chunk)


class LocationWarmer(Warmer):
    """Rebuilds the GEO index from the locations the database keeps, with their own timestamps,
    so a location that is already stale is not made to look recent."""

    kind = "geospatial"

    def queryset(self) -> QuerySet:
        cutoff = timezone.now() - timedelta(seconds=caching_settings.TTLS["geospatial"])
        return Profile.objects.filter(latitude__isnull=False, longitude__isnull=False,
                                      location_updated_at__gte=cutoff).order_by("user_id")

    def count(self, limit: int | None) -> int:
        return _count(self.queryset(), limit)

    def batches(self, limit: int | None, batch_size: int) -> Iterator[int]:
        for chunk in _chunks(self.queryset(), limit, batch_size):
            yield location_index.set_many(
                (p.user_id, p.latitude, p.longitude, p.location_updated_at.timestamp()) for p in chunk)
