"""The demo API: profiles, photo metadata, recommendations and likes, locations and nearby users."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching_app import prefetch
from caching_app.async_views import AsyncAPIView
from caching_app.drf import cache_response
from caching_app.foundation.errors import RedisUnavailable
from caching_app.geo import LocationUnknown, location_index
from caching_app.service import API_RESPONSE, CacheUnavailable, cache_service

from . import matching
from .models import Photo, Profile, default_display_name
from .serializers import (
    MAX_PHOTOS,
    ErrorSerializer,
    LikeResultSerializer,
    LocationResultSerializer,
    LocationSerializer,
    NearbyQuerySerializer,
    NearbySerializer,
    OwnProfileSerializer,
    PhotoSerializer,
    PublicProfileSerializer,
    RecommendationsSerializer,
)

logger = logging.getLogger(__name__)

X_CACHE = OpenApiParameter("X-Cache", OpenApiTypes.STR, OpenApiParameter.HEADER, response=True, enum=["HIT", "MISS"],
                           description="Whether the body came from the cache.")


class APIErrorWithCode(exceptions.APIException):
    """An error whose JSON body carries a stable ``code`` next to ``detail``."""

    def __init__(self, detail: str, code: str, status_code: int):
        super().__init__({"detail": detail, "code": code})
        self.status_code = status_code


def signed_in(request: Request) -> AbstractBaseUser:
    """The signed-in user: these views' IsAuthenticated permission admits no one else."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise exceptions.NotAuthenticated
    return user


def with_cache_header(data: Any, from_cache: bool, status_code: int = 200) -> Response:
    return Response(data, status=status_code, headers={"X-Cache": "HIT" if from_cache else "MISS"})


# The loaders of the async cached GETs: a miss reads the database in a thread. Built once, not per request.
@sync_to_async
def load_public_profile(user_id: int) -> dict:
    return PublicProfileSerializer(get_object_or_404(Profile, user_id=user_id)).data


@sync_to_async
def load_own_profile(user: AbstractBaseUser) -> dict:
    profile, _ = Profile.objects.get_or_create(user=user, defaults={"display_name": default_display_name(user)})
    return OwnProfileSerializer(profile).data


# The cached GETs are async views (caching_app.async_views): a hit makes no thread hop, only a miss's loader
# takes one. (Comments, not docstrings: DRF and the schema publish a view's docstring as its description.)
class ProfileDetailView(AsyncAPIView):
    # The entry each GET reads first, named from the URL: it rides in the revocation round trip (caching_app.prefetch).
    cache_prefetch = staticmethod(lambda user_id, kwargs: cache_service.user_profile_entry(kwargs["user_id"]))

    @extend_schema(operation_id="profiles_retrieve", responses={200: PublicProfileSerializer}, parameters=[X_CACHE],
                   summary="A user's public profile (cached).")
    async def get(self, request: Request, user_id: int) -> Response:
        entry = cache_service.user_profile_entry(user_id)
        return with_cache_header(*await cache_service.alookup(entry, partial(load_public_profile, user_id),
                                                              prefetched=prefetch.take(request, entry)))


class MyProfileView(AsyncAPIView):
    cache_prefetch = staticmethod(lambda user_id, kwargs: cache_service.user_profile_entry(user_id, "private"))

    @extend_schema(operation_id="profiles_me_retrieve", responses={200: OwnProfileSerializer}, parameters=[X_CACHE],
                   summary="The signed-in user's own profile (cached).")
    async def get(self, request: Request) -> Response:
        user = signed_in(request)
        entry = cache_service.user_profile_entry(user.pk, "private")
        return with_cache_header(*await cache_service.alookup(entry, partial(load_own_profile, user),
                                                              prefetched=prefetch.take(request, entry)))

    @extend_schema(operation_id="profiles_me_partial_update", request=OwnProfileSerializer,
                   responses={200: OwnProfileSerializer}, summary="Edit your profile; caches are invalidated.")
    async def patch(self, request: Request) -> Response:
        return await sync_to_async(self.edit)(request)  # a database write: in a thread

    def edit(self, request: Request) -> Response:
        user = signed_in(request)
        profile, _ = Profile.objects.get_or_create(user=user, defaults={"display_name": default_display_name(user)})
        serializer = OwnProfileSerializer(profile, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()  # post_save invalidates this user's cache group
        return Response(serializer.data)


class PhotoListView(APIView):
    cache_prefetch = staticmethod(lambda user_id, kwargs: cache_service.photo_metadata_entry(kwargs["user_id"]))

    @extend_schema(operation_id="profiles_photos_list", responses={200: PhotoSerializer(many=True)},
                   parameters=[X_CACHE], summary="Photo metadata of a user (cached).")
    def get(self, request: Request, user_id: int) -> Response:
        def load() -> list:
            get_object_or_404(get_user_model(), pk=user_id)
            return list(PhotoSerializer(Photo.objects.filter(user_id=user_id), many=True).data)

        entry = cache_service.photo_metadata_entry(user_id)
        return with_cache_header(*cache_service.lookup(entry, load, prefetched=prefetch.take(request, entry)))

    @extend_schema(operation_id="profiles_photos_create", request=PhotoSerializer,
                   responses={201: PhotoSerializer, 403: ErrorSerializer, 409: ErrorSerializer},
                   summary="Add photo metadata to your profile.")
    def post(self, request: Request, user_id: int) -> Response:
        if user_id != signed_in(request).pk:
            msg = "You can only add photos to your own profile."
            raise APIErrorWithCode(msg, "not_owner",
                                   status.HTTP_403_FORBIDDEN)
        serializer = PhotoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            # The owner's profile row is the lock (every user has one): concurrent uploads queue here, even
            # for a first photo, and PostgreSQL refuses FOR UPDATE on an aggregate such as COUNT.
            Profile.objects.select_for_update().filter(user_id=user_id).first()
            if Photo.objects.filter(user_id=user_id).count() >= MAX_PHOTOS:
                msg = f"A profile has at most {MAX_PHOTOS} photos."
                raise APIErrorWithCode(msg, "too_many_photos",
                                       status.HTTP_409_CONFLICT)  # a well-formed request; the state conflicts
            if serializer.validated_data.get("is_primary"):
                Photo.objects.filter(user_id=user_id, is_primary=True).update(is_primary=False)
            serializer.save(user_id=user_id)  # post_save invalidates the owner's cache group
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class MatchesView(AsyncAPIView):
    cache_prefetch = staticmethod(lambda user_id, kwargs: cache_service.match_recommendations_entry(user_id))

    @extend_schema(operation_id="matches_recommendations", responses={200: RecommendationsSerializer},
                   parameters=[X_CACHE], summary="Match recommendations for the signed-in user (cached).")
    async def get(self, request: Request) -> Response:
        user_id = signed_in(request).pk
        entry = cache_service.match_recommendations_entry(user_id)
        return with_cache_header(*await matching.acached_recommendations(user_id, prefetch.take(request, entry)))


class LikeView(APIView):
    @extend_schema(operation_id="matches_like", request=None,
                   responses={200: LikeResultSerializer, 201: LikeResultSerializer, 403: ErrorSerializer},
                   summary="Like a user; a mutual like is a match.")
    def post(self, request: Request, user_id: int) -> Response:
        if user_id == signed_in(request).pk:
            msg = "You cannot like yourself."
            raise APIErrorWithCode(msg, "like_self", status.HTTP_403_FORBIDDEN)
        target = get_object_or_404(get_user_model(), pk=user_id)
        try:
            result = matching.like(signed_in(request).pk, target.pk)
        except IntegrityError:  # the user was deleted meanwhile (PostgreSQL checks the foreign key at commit)
            raise exceptions.NotFound() from None
        return Response({"user_id": target.pk, "match": result.match},
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class LocationView(APIView):
    @extend_schema(operation_id="location_update", request=LocationSerializer,
                   responses={200: LocationResultSerializer}, summary="Set your current location.")
    def put(self, request: Request) -> Response:
        serializer = LocationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lat, lon = serializer.validated_data["lat"], serializer.validated_data["lon"]
        user = signed_in(request)
        now = timezone.now()
        Profile.objects.update_or_create(
            user=user, defaults={"latitude": lat, "longitude": lon, "location_updated_at": now},
            create_defaults={"display_name": default_display_name(user), "latitude": lat, "longitude": lon,
                             "location_updated_at": now},
        )
        try:
            location_index.set_location(user.pk, lat, lon)
            indexed = True
        except CacheUnavailable as exc:
            # The database has it; `manage.py warm_cache --kind geospatial` rebuilds the index.
            logger.warning("Location of user %s saved but not indexed: %s", user.pk, exc)
            indexed = False
        return Response({"lat": lat, "lon": lon, "updated_at": now, "indexed": indexed})


class NearbyView(APIView):
    @extend_schema(operation_id="nearby_list", parameters=[NearbyQuerySerializer, X_CACHE],
                   responses={200: NearbySerializer, 409: ErrorSerializer, 503: ErrorSerializer},
                   summary="Users near your last location, nearest first (cached briefly).")
    @cache_response(kind=API_RESPONSE, ttl=30, per_user=True)
    def get(self, request: Request) -> Response:
        query = NearbyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            neighbours = location_index.nearby(signed_in(request).pk, query.validated_data["radius_km"],
                                               query.validated_data["limit"])
        except LocationUnknown:
            msg = "Set your location with PUT /api/location/ first."
            raise APIErrorWithCode(msg, "location_unknown",
                                   status.HTTP_409_CONFLICT) from None
        except CacheUnavailable as exc:
            msg = "Location search is unavailable right now; try again shortly."
            raise RedisUnavailable(msg) from exc
        names = dict(Profile.objects.filter(user_id__in=[n.user_id for n in neighbours])
                     .values_list("user_id", "display_name"))
        results = [{"user_id": int(n.user_id), "display_name": names.get(int(n.user_id), ""),
                    "distance_km": n.distance_km} for n in neighbours]
        return Response({"results": results})
