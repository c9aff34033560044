"""DRF serializers of the demo API: what other users may see, and what only the owner sees."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import models
from rest_framework import serializers

from caching_app.drf import StrictCharField
from caching_app.geo import MAX_LATITUDE, MAX_LONGITUDE

from .models import Photo, Profile

MIN_AGE, MAX_AGE = 18, 120
MAX_PHOTOS = 9


class PublicProfileSerializer(serializers.ModelSerializer):
    """A profile as any signed-in user sees it: no birth date, no location."""

    user_id = serializers.IntegerField(read_only=True)
    age = serializers.IntegerField(read_only=True, allow_null=True)
    # Declared: DRF drops allow_blank from read-only model fields, and the schema would then refuse "".
    gender = serializers.ChoiceField(choices=Profile.Gender.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Profile
        fields = ["user_id", "display_name", "bio", "age", "gender", "interests", "updated_at"]
        read_only_fields = fields


DAY = "(?:0[1-9]|[12][0-9]|3[01])"  # format "date" rules out the impossible ones (02-30)


def _either(values: list[str]) -> str:
    return "(?:" + "|".join(values) + ")"


def _month_days(month: int, day: int, later: bool) -> str | None:
    """``MM-DD`` later in the year than (month, day), or else up to and including it (None: no such day)."""
    days = range(day + 1, 32) if later else range(1, day + 1)
    months = range(month + 1, 13) if later else range(1, month)
    choices = [f"{month:02d}-{_either([f'{d:02d}' for d in days])}"] if days else []
    if months:
        choices.append(f"{_either([f'{m:02d}' for m in months])}-{DAY}")
    return _either(choices) if choices else None


def birth_date_pattern(today: date) -> str:
    """Exactly the birth dates whose age today is MIN_AGE to MAX_AGE (what validate_birth_date accepts).

    Stated in the request schema (winkr.schema reads ``schema_pattern``), so a generated client or a fuzzer
    knows the range; it is built when the schema is, so it moves with the calendar.
    """
    oldest_year, youngest_year = today.year - MAX_AGE - 1, today.year - MIN_AGE
    branches = [f"{_either([str(y) for y in range(oldest_year + 1, youngest_year)])}-[0-9]{{2}}-[0-9]{{2}}"]
    for year, later in ((oldest_year, True), (youngest_year, False)):
        month_days = _month_days(today.month, today.day, later)
        if month_days is not None:
            branches.append(f"{year:04d}-{month_days}")
    return f"^{_either(branches)}$"


class BirthDateField(serializers.DateField):
    def schema_pattern(self) -> str:
        return birth_date_pattern(date.today())


class OwnProfileSerializer(serializers.ModelSerializer):
    """The signed-in user's own profile: editable fields plus the private ones."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.CharField: StrictCharField, models.TextField: StrictCharField}

    user_id = serializers.IntegerField(read_only=True)
    age = serializers.IntegerField(read_only=True, allow_null=True)
    display_name = StrictCharField(min_length=1, max_length=50)
    birth_date = BirthDateField(required=False, allow_null=True)
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
            msg = f"Age must be between {MIN_AGE} and {MAX_AGE}."
            raise serializers.ValidationError(msg, code="age_range")
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
