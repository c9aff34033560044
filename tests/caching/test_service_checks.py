"""System checks of WINKR_CACHE_SERVICE name the bad key."""

import pytest
from django.test import override_settings

from caching_app.service_checks import check_cache_service_settings


def test_project_settings_pass():
    assert check_cache_service_settings() == []


@pytest.mark.parametrize("override, error_id", [
    ({"SERIALISER": "json"}, "winkr_caching.E010"),
    ({"SERIALIZER": "pickle"}, "winkr_caching.E011"),
    ({"TTL_JITTER": 2}, "winkr_caching.E012"),
    ({"LOCK_WAIT": -1}, "winkr_caching.E013"),
    ({"COMPRESS_MIN_BYTES": 0}, "winkr_caching.E014"),
    ({"WARMERS": {"user_profile": "no.such.Warmer"}}, "winkr_caching.E015"),
])
def test_bad_settings(settings, override, error_id):
    with override_settings(WINKR_CACHE_SERVICE={**settings.WINKR_CACHE_SERVICE, **override}):
        assert error_id in [error.id for error in check_cache_service_settings()]
