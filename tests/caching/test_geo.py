"""The GEO index: nearby search, validation, freshness."""

import pytest

from caching_app.geo import LocationIndex, LocationUnknown, validate_coordinates

BERLIN = (52.5200, 13.4050)
POTSDAM = (52.3906, 13.0645)  # ~27 km from Berlin
HAMBURG = (53.5511, 9.9937)  # ~255 km


@pytest.fixture
def index():
    geo = LocationIndex()
    geo.set_location(1, *BERLIN)
    geo.set_location(2, *POTSDAM)
    geo.set_location(3, *HAMBURG)
    return geo


def test_nearby_sorted_limited_and_without_self(index):
    found = index.nearby(1, radius_km=300, limit=10)
    assert [n.user_id for n in found] == ["2", "3"]
    assert 20 < found[0].distance_km < 35
    assert [n.user_id for n in index.nearby(1, radius_km=50, limit=10)] == ["2"]
    assert len(index.nearby(1, radius_km=300, limit=1)) == 1


def test_user_without_location(index):
    with pytest.raises(LocationUnknown):
        index.nearby(99, radius_km=10, limit=5)


def test_stale_locations_are_pruned(index, settings):
    index.clock = lambda: 10**10  # far future: every location is older than the geospatial TTL
    with pytest.raises(LocationUnknown):
        index.nearby(1, radius_km=300, limit=10)
    assert index.client.zcard(index.locations_key) == 0


@pytest.mark.parametrize("lat, lon", [(90, 0), (-85.1, 0), (0, 180.01), (0, -181)])
def test_invalid_coordinates(lat, lon):
    with pytest.raises(ValueError, match="lat|lon"):
        validate_coordinates(lat, lon)
