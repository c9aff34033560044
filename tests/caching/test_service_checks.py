"""System checks of WINKR_CACHING name the bad key."""

import pytest
from django.test import override_settings

from caching_app.checks import check_cache_service_settings


def test_project_settings_pass():
    assert check_cache_service_settings() == []


def test_unknown_key_is_reported(settings):
    from caching_app.checks import check_caching_settings

    with override_settings(WINKR_CACHING={**settings.WINKR_CACHING, "SERIALISER": "json"}):
        assert [error.id for error in check_caching_settings()] == ["winkr_caching.E003"]


@pytest.mark.parametrize("override, error_id", [
    ({"SERIALIZER": "pickle"}, "winkr_caching.E011"),
    ({"TTL_JITTER": 2}, "winkr_caching.E012"),
    ({"LOCK_WAIT": -1}, "winkr_caching.E013"),
    ({"COMPRESS_MIN_BYTES": 0}, "winkr_caching.E014"),
    ({"WARMERS": {"user_profile": "no.such.Warmer"}}, "winkr_caching.E015"),
])
def test_bad_settings(settings, override, error_id):
    with override_settings(WINKR_CACHING={**settings.WINKR_CACHING, **override}):
        assert error_id in [error.id for error in check_cache_service_settings()]
