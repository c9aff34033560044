"""DRF serializers of the demo API: what other users may see, and what only the owner sees."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import models
from rest_framework import serializers

from caching_app.geo import MAX_LATITUDE, MAX_LONGITUDE

from .models import Photo, Profile

MIN_AGE, MAX_AGE = 18, 120
MAX_PHOTOS = 9


class PublicProfileSerializer(serializers.ModelSerializer):
    """A profile as any signed-in user sees it: no birth date, no location."""

    user_id = serializers.IntegerField(read_only=True)
    age = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Profile
        fields = ["user_id", "display_name", "bio", "age", "gender", "interests", "updated_at"]
        read_only_fields = fields


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField turns ``0`` into ``"0"``, so a client's type bug would be stored silently."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class OwnProfileSerializer(serializers.ModelSerializer):
    """The signed-in user's own profile: editable fields plus the private ones."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.CharField: StrictCharField, models.TextField: StrictCharField}

    user_id = serializers.IntegerField(read_only=True)
    age = serializers.IntegerField(read_only=True, allow_null=True)
    display_name = StrictCharField(min_length=1, max_length=50)
    interests = serializers.ListField(
        child=StrictCharField(min_length=1, max_length=30), max_length=20, required=False
    )

    class Meta:
        model = Profile
        fields = ["user_id", "display_name", "bio", "birth_date", "age", "gender", "interests", "latitude",
                  "longitude", "location_updated_at", "updated_at"]
        read_only_fields = ["latitude", "longitude", "location_updated_at", "updated_at"]

    def validate_birth_date(self, value: date | None) -> date | None:
        if value is None:
            return value
        today = date.today()
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
        if not MIN_AGE <= age <= MAX_AGE:
            raise serializers.ValidationError(f"Age must be between {MIN_AGE} and {MAX_AGE}.", code="age_range")
        return value

    def validate_interests(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(item.strip().lower() for item in value))  # normalised, no duplicates


class PhotoSerializer(serializers.ModelSerializer):
    width = serializers.IntegerField(min_value=1, max_value=20000)
    height = serializers.IntegerField(min_value=1, max_value=20000)

    class Meta:
        model = Photo
        fields = ["id", "url", "width", "height", "caption", "is_primary", "created_at"]
        read_only_fields = ["id", "created_at"]


class RecommendationsSerializer(serializers.Serializer):
    results = PublicProfileSerializer(many=True)


class LikeResultSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="The liked user.")
    match = serializers.BooleanField(help_text="True when the like is mutual.")


class NumberField(serializers.FloatField):
    """A float that refuses JSON booleans: DRF's FloatField reads ``false`` as 0.0 (a location in the ocean)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class LocationSerializer(serializers.Serializer):
    lat = NumberField(min_value=-MAX_LATITUDE, max_value=MAX_LATITUDE)
    lon = NumberField(min_value=-MAX_LONGITUDE, max_value=MAX_LONGITUDE)


class LocationResultSerializer(LocationSerializer):
    updated_at = serializers.DateTimeField()
    indexed = serializers.BooleanField(help_text="False if the search index could not be updated right now.")


class NearbyQuerySerializer(serializers.Serializer):
    radius_km = serializers.FloatField(min_value=0.1, max_value=500, default=25)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class NeighbourSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    display_name = serializers.CharField()
    distance_km = serializers.FloatField()


class NearbySerializer(serializers.Serializer):
    results = NeighbourSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
