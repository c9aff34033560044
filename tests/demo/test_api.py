"""The demo API end to end through the full middleware stack, against real Redis."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from caching_app import metrics
from caching_app.service import cache_service
from winkr.demo.models import Like, Profile
from winkr.demo.signals import match_created

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit invalidation runs as in production


def make_user(name, **profile):
    user = get_user_model().objects.create_user(username=name, password="pw-" + name)
    # The user came with a profile (winkr.demo.receivers.create_profile): fill it in.
    Profile.objects.filter(user=user).update(display_name=profile.pop("display_name", name.title()), **profile)
    return user


@pytest.fixture
def alice():
    return make_user("alice", interests=["hiking", "jazz"], birth_date="1990-05-01")


@pytest.fixture
def bob():
    return make_user("bob", interests=["jazz"])


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_is_rejected(alice):
    response = APIClient().get(f"/api/profiles/{alice.pk}/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_public_profile_cached_and_private_fields_hidden(alice, bob):
    client = client_for(bob)
    first = client.get(f"/api/profiles/{alice.pk}/")
    assert first.status_code == 200 and first["X-Cache"] == "MISS"
    assert first.json()["display_name"] == "Alice" and first.json()["age"] >= 30
    assert "birth_date" not in first.json() and "latitude" not in first.json()
    second = client.get(f"/api/profiles/{alice.pk}/")
    assert second["X-Cache"] == "HIT" and second.json() == first.json()
    missing = client.get("/api/profiles/999999/")
    assert missing.status_code == 404 and "detail" in missing.json()


def test_patch_invalidates_every_view_of_the_profile(alice, bob):
    mine, theirs = client_for(alice), client_for(bob)
    assert mine.get("/api/profiles/me/").json()["birth_date"] == "1990-05-01"
    assert mine.get("/api/profiles/me/")["X-Cache"] == "HIT"
    theirs.get(f"/api/profiles/{alice.pk}/")
    assert theirs.get(f"/api/profiles/{alice.pk}/")["X-Cache"] == "HIT"

    response = mine.patch("/api/profiles/me/", {"display_name": "Alice B.", "interests": ["Chess", "chess"]},
                          format="json")
    assert response.status_code == 200 and response.json()["interests"] == ["chess"]

    after_mine = mine.get("/api/profiles/me/")
    assert after_mine["X-Cache"] == "MISS" and after_mine.json()["display_name"] == "Alice B."
    after_theirs = theirs.get(f"/api/profiles/{alice.pk}/")
    assert after_theirs["X-Cache"] == "MISS" and after_theirs.json()["display_name"] == "Alice B."


@pytest.mark.parametrize("body, field", [
    ({"display_name": ""}, "display_name"),
    ({"birth_date": "2020-01-01"}, "birth_date"),
    ({"gender": "robot"}, "gender"),
    ({"interests": ["x" * 31]}, "interests"),
    ({"interests": "hiking"}, "interests"),
])
def test_patch_validation(alice, body, field):
    response = client_for(alice).patch("/api/profiles/me/", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_me_creates_a_profile_on_first_use():
    user = get_user_model().objects.create_user(username="carol")
    assert client_for(user).get("/api/profiles/me/").json()["display_name"] == "carol"


def test_photos_list_post_and_ownership(alice, bob):
    mine, theirs = client_for(alice), client_for(bob)
    assert mine.get(f"/api/profiles/{alice.pk}/photos/").json() == []
    assert mine.get(f"/api/profiles/{alice.pk}/photos/")["X-Cache"] == "HIT"
    created = mine.post(f"/api/profiles/{alice.pk}/photos/",
                        {"url": "https://img.example/a.jpg", "width": 800, "height": 600, "is_primary": True},
                        format="json")
    assert created.status_code == 201
    listed = theirs.get(f"/api/profiles/{alice.pk}/photos/")
    assert listed["X-Cache"] == "MISS" and [p["url"] for p in listed.json()] == ["https://img.example/a.jpg"]
    forbidden = theirs.post(f"/api/profiles/{alice.pk}/photos/",
                            {"url": "https://img.example/b.jpg", "width": 1, "height": 1}, format="json")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not_owner"
    bad = mine.post(f"/api/profiles/{alice.pk}/photos/", {"url": "not a url", "width": 0, "height": 1},
                    format="json")
    assert bad.status_code == 400 and {"url", "width"} <= set(bad.json())
    assert theirs.get("/api/profiles/999999/photos/").status_code == 404


def test_like_match_invalidates_both_and_sends_the_signal(alice, bob):
    received = []

    def on_match(sender, user_ids, **kwargs):
        received.append(set(user_ids))

    match_created.connect(on_match)
    try:
        a, b = client_for(alice), client_for(bob)
        assert [p["user_id"] for p in a.get("/api/matches/").json()["results"]] == [bob.pk]
        assert a.get("/api/matches/")["X-Cache"] == "HIT"
        assert b.get("/api/matches/").json()["results"][0]["user_id"] == alice.pk
        assert b.get("/api/matches/")["X-Cache"] == "HIT"

        first = a.post(f"/api/matches/{bob.pk}/like/")
        assert first.status_code == 201 and first.json() == {"user_id": bob.pk, "match": False}
        assert a.get("/api/matches/").json()["results"] == []  # liked users leave the list at once
        assert b.get("/api/matches/")["X-Cache"] == "HIT"  # no match yet: bob's list is untouched
        assert received == []

        mutual = b.post(f"/api/matches/{alice.pk}/like/")
        assert mutual.status_code == 201 and mutual.json()["match"] is True
        assert received == [{alice.pk, bob.pk}]
        assert b.get("/api/matches/")["X-Cache"] == "MISS"
        assert a.post(f"/api/matches/{bob.pk}/like/").status_code == 200  # idempotent
        assert received == [{alice.pk, bob.pk}]
        assert Like.objects.count() == 2
    finally:
        match_created.disconnect(on_match)


def test_like_errors(alice):
    client = client_for(alice)
    own = client.post(f"/api/matches/{alice.pk}/like/")
    assert own.status_code == 403 and own.json()["code"] == "like_self"  # well formed, not allowed
    assert client.post("/api/matches/999999/like/").status_code == 404


def test_location_and_nearby(alice, bob):
    a, b = client_for(alice), client_for(bob)
    assert a.get("/api/nearby/").status_code == 409
    put = a.put("/api/location/", {"lat": 52.52, "lon": 13.405}, format="json")
    assert put.status_code == 200 and put.json()["indexed"] is True
    assert b.put("/api/location/", {"lat": 52.39, "lon": 13.06}, format="json").status_code == 200
    near = a.get("/api/nearby/?radius_km=50&limit=5")
    assert near.status_code == 200 and near["X-Cache"] == "MISS"
    (row,) = near.json()["results"]
    assert row["user_id"] == bob.pk and row["display_name"] == "Bob" and 20 < row["distance_km"] < 35
    assert a.get("/api/nearby/?radius_km=50&limit=5")["X-Cache"] == "HIT"
    assert a.get("/api/nearby/?radius_km=5").json()["results"] == []
    assert Profile.objects.get(user=alice).latitude == 52.52


@pytest.mark.parametrize("body", [
    {"lat": 91, "lon": 0}, {"lat": 85.1, "lon": 0}, {"lat": 0, "lon": 181}, {"lat": "north", "lon": 0}, {"lat": 1},
])
def test_location_validation(alice, body):
    response = client_for(alice).put("/api/location/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"lat", "lon"}


def test_location_rejects_nan(alice):
    response = client_for(alice).put("/api/location/", '{"lat": NaN, "lon": 0}', content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("query, field", [
    ("radius_km=0", "radius_km"), ("radius_km=501", "radius_km"), ("radius_km=abc", "radius_km"),
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=1.5", "limit"),
])
def test_nearby_validation(alice, query, field):
    response = client_for(alice).get(f"/api/nearby/?{query}")
    assert response.status_code == 400 and field in response.json()


def test_redis_killed_degrades_to_misses_never_500(alice, bob, spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0, DIAL_TIMEOUT=0.5)
    client = client_for(bob)
    assert client.get(f"/api/profiles/{alice.pk}/")["X-Cache"] == "MISS"
    assert client.get(f"/api/profiles/{alice.pk}/")["X-Cache"] == "HIT"
    server.kill()
    before = metrics.ERRORS.labels("user_profile")._value.get()
    response = client.get(f"/api/profiles/{alice.pk}/")
    assert response.status_code == 200 and response["X-Cache"] == "MISS" and response.json()["display_name"] == "Alice"
    assert metrics.ERRORS.labels("user_profile")._value.get() > before
    assert client.get("/api/matches/").status_code == 200
    assert client.patch("/api/profiles/me/", {"bio": "still works"}, format="json").status_code == 200
    located = client.put("/api/location/", {"lat": 1, "lon": 1}, format="json")
    assert located.status_code == 200 and located.json()["indexed"] is False
    nearby = client.get("/api/nearby/")
    assert nearby.status_code == 503 and nearby.json()["code"] == "service_unavailable"
    server.start()  # recovers without restarting Django
    assert client.get(f"/api/profiles/{alice.pk}/")["X-Cache"] == "MISS"
    assert client.get(f"/api/profiles/{alice.pk}/")["X-Cache"] == "HIT"


def test_schema_is_served():
    response = client_for(make_user("dora")).get("/api/schema/")
    assert response.status_code == 200 and b"/api/nearby/" in response.content
    assert cache_service  # imported for its side-effect free singleton
