"""Django's own cache contract, ``BaseCacheTests``, run unchanged against ``CACHES["default"]``.

``BaseCacheTests`` comes from ``tests/cache/tests.py`` in the sdist of the installed Django,
fetched at test time (:mod:`tests.djangosuite`). It runs twice, with Django's own cache set-up
(``caches_setting_for_tests``, as Django's ``RedisCacheTests`` does):

- against the project's ``CACHES["default"]`` (signed pickle, compression, native async);
- against plain django-redis with its default serializer: the baseline.

Both carry the same :data:`DJANGO_REDIS_QUIRKS` as expected failures, each with its reason,
and an unexpected success fails the run: so the baseline proves the list is exactly
django-redis' own, and ours fails nothing beyond it.
"""

from __future__ import annotations

import copy
import unittest

from django.conf import settings
from django.db import connection
from django.test import TestCase, override_settings

from tests.djangosuite import load_django_tests, with_test_app

django_cache_tests = load_django_tests("cache")
BaseCacheTests = django_cache_tests.BaseCacheTests
Poll = django_cache_tests.Poll

# Django tests that django-redis (any serializer) fails, and why. Measured against
# django_redis.cache.RedisCache with its default PickleSerializer, below.
DJANGO_REDIS_QUIRKS = {
    "test_invalid_key_characters": "django-redis does not run Django's memcached key validation "
                                   "(keys with spaces or control characters are fine in Redis)",
    "test_invalid_key_length": "django-redis does not warn on keys over 250 characters (a memcached limit)",
    "test_invalid_with_version_key_length": "as test_invalid_key_length",
    "test_incr_version": "django-redis' incr_version reads a stored None as a missing key (ValueError)",
    "test_decr_version": "as test_incr_version",
    "test_delete_many_no_keys": "django-redis' delete_many([]) returns 0, Django's None",
    "test_set_many_empty_data": "django-redis' set_many returns None, not the list of failed keys ([])",
    "test_set_many_returns_empty_list_on_success": "as test_set_many_empty_data",
}


def _params(**options) -> dict:
    base = copy.deepcopy(settings.CACHES["default"])
    base["OPTIONS"].update(options)
    return base


OURS = _params()
BASELINE = {  # django-redis as it ships: its default client and PickleSerializer, no compression
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": OURS["LOCATION"],
    "KEY_PREFIX": OURS["KEY_PREFIX"],
    "OPTIONS": {"CONNECTION_FACTORY": OURS["OPTIONS"]["CONNECTION_FACTORY"]},
}


def _with_quirks(cls: type) -> type:
    for name, _reason in DJANGO_REDIS_QUIRKS.items():
        setattr(cls, name, unittest.expectedFailure(getattr(BaseCacheTests, name)))
    return cls


class _PollTable:
    """Django's suite caches ``cache.models.Poll`` instances: its table, for this class only."""

    @classmethod
    def setUpClass(cls):
        with connection.schema_editor() as editor:
            editor.create_model(Poll)
        cls.addClassCleanup(cls._drop_poll_table)
        super().setUpClass()

    @staticmethod
    def _drop_poll_table():
        with connection.schema_editor() as editor:
            editor.delete_model(Poll)


@_with_quirks
@override_settings(CACHES=django_cache_tests.caches_setting_for_tests(
    base=OURS, exclude=django_cache_tests.redis_excluded_caches))
@with_test_app("cache")
class ProjectCacheDjangoContractTests(_PollTable, BaseCacheTests, TestCase):
    """CACHES["default"]: caching_app.django_cache.RedisCache with the signed-pickle serializer."""


@_with_quirks
@override_settings(CACHES=django_cache_tests.caches_setting_for_tests(
    base=BASELINE, exclude=django_cache_tests.redis_excluded_caches))
@with_test_app("cache")
class DjangoRedisBaselineDjangoContractTests(_PollTable, BaseCacheTests, TestCase):
    """The baseline: plain django-redis with its default serializer."""


def test_the_project_cache_is_what_runs():
    assert OURS["BACKEND"] == "caching_app.django_cache.RedisCache"
    assert OURS["OPTIONS"]["SERIALIZER"] == "caching_app.signing.SignedPickleSerializer"
