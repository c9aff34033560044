import pytest
from django.test import override_settings
from rest_framework.test import APIClient

RATES = {
    "tests": "3/min",
    "burst": ["2/s", "4/min"],
    "login": "3/min",
    "anon": ["5/min"],
    "user": ["10/min"],
}


@pytest.fixture
def rl_settings():
    """Point at the test views with small, known rates; yields a function to change options."""
    overrides = []

    def apply(**options):
        config = {"RATES": RATES, **options}
        override = override_settings(ROOT_URLCONF="tests.ratelimit.urls", WINKR_RATELIMIT=config)
        override.enable()
        overrides.append(override)

    apply()
    yield apply
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def api(rl_settings):
    return APIClient(REMOTE_ADDR="198.51.100.7")
