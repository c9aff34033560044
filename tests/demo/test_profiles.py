"""Every user has a profile from the moment the user exists (register, admin, createsuperuser, migration)."""

import importlib
import re
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from winkr.demo.models import Profile
from winkr.demo.serializers import MAX_AGE, MIN_AGE, birth_date_pattern

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_registered_user_has_a_public_profile_at_once(django_user_model):
    registered = APIClient().post("/api/auth/register/", {"username": "newbie", "password": "quite-Long-pass-42"},
                                  format="json")
    assert registered.status_code == 201
    viewer = APIClient()
    viewer.force_authenticate(django_user_model.objects.create_user("viewer"))
    response = viewer.get(f"/api/profiles/{registered.json()['id']}/")
    assert response.status_code == 200 and response.json()["display_name"] == "newbie"


def test_users_created_any_other_way_get_one_too(django_user_model):
    admin = django_user_model.objects.create_superuser("x" * 150, password="pw")
    assert Profile.objects.get(user=admin).display_name == "x" * 50  # cut to the field's length


def test_user_and_profile_are_created_together_or_not_at_all(django_user_model, monkeypatch):
    def refuse(*args, **kwargs):
        msg = "profile storage broke"
        raise RuntimeError(msg)

    monkeypatch.setattr(Profile.objects, "get_or_create", refuse)
    with pytest.raises(RuntimeError):
        APIClient(raise_request_exception=True).post(
            "/api/auth/register/", {"username": "halfway", "password": "quite-Long-pass-42"}, format="json")
    assert not django_user_model.objects.filter(username="halfway").exists()


def test_data_migration_creates_the_missing_profiles(django_user_model):
    old = django_user_model.objects.create_user("old-timer")
    Profile.objects.filter(user=old).delete()  # as before the receiver existed
    kept = django_user_model.objects.create_user("kept")
    Profile.objects.filter(user=kept).update(display_name="Edited")
    migration = importlib.import_module("winkr.demo.migrations.0002_profiles_for_existing_users")
    with connection.schema_editor() as editor:
        migration.create_missing_profiles(apps, editor)
    assert Profile.objects.get(user=old).display_name == "old-timer"
    assert Profile.objects.get(user=kept).display_name == "Edited"
    assert Profile.objects.count() == get_user_model().objects.count()


@pytest.mark.parametrize("today", [date(2026, 12, 1), date(2024, 2, 29), date(2026, 1, 1), date(2026, 12, 31)])
def test_birth_date_pattern_is_exactly_the_accepted_ages(today):
    """The schema's pattern for birth_date accepts a date iff validate_birth_date does (every day of 130 years)."""
    pattern = re.compile(birth_date_pattern(today))
    day = date(today.year - MAX_AGE - 10, 1, 1)
    while day <= today:
        age = today.year - day.year - ((today.month, today.day) < (day.month, day.day))
        assert bool(pattern.match(day.isoformat())) == (MIN_AGE <= age <= MAX_AGE), day
        day += timedelta(days=1)
