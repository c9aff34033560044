"""CACHES["default"]: what Django's cache framework stores works, and planted bytes never run.

Real views through the full middleware stack (``cache_page``, ``CacheMiddleware``,
``{% cache %}``, model instances, bytes), a real redis-server, and a pickle planted in Redis
whose ``__reduce__`` would write a marker file.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import zlib

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from caching_app import signing
from caching_app.foundation.connections import get_redis
from tests.caching import django_cache_views as views

pytestmark = pytest.mark.django_db


def untrusted(reason: str) -> float:
    return REGISTRY.get_sample_value("winkr_cache_untrusted_payloads_total", {"reason": reason}) or 0.0


@pytest.fixture(autouse=True)
def _fresh_counts():
    for name in views.CALLS:
        views.CALLS[name] = 0


@pytest.fixture
def client():
    with override_settings(ROOT_URLCONF="tests.caching.django_cache_views"):
        yield Client()


class WritesMarker:
    """Unpickling this writes a file: proof that planted bytes ran."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_cache_page_serves_the_cached_response(client):
    first = client.get("/page/")
    second = client.get("/page/")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content == b"page body 1"
    assert views.CALLS["page"] == 1


def test_cache_middleware_serves_the_cached_response(client):
    assert client.get("/middleware/").content == b"middleware body 1"
    assert client.get("/middleware/").content == b"middleware body 1"
    assert views.CALLS["middleware"] == 1


def test_template_fragment_is_cached(client):
    assert client.get("/fragment/").content == b"fragment 1"
    assert client.get("/fragment/").content == b"fragment 1"
    assert views.CALLS["fragment"] == 1


def test_model_instances_round_trip(client):
    user = get_user_model().objects.create_user("cached-alice")
    assert client.get(f"/user/{user.pk}/").json() == {"username": "cached-alice", "class": "User", "source": "db"}
    assert client.get(f"/user/{user.pk}/").json() == {"username": "cached-alice", "class": "User", "source": "cache"}


def test_bytes_round_trip_compressed(client):
    expected = bytes(range(256)) * 40
    assert client.get("/blob/").content == expected
    assert client.get("/blob/").content == expected
    stored = get_redis("cache").get(cache.make_key("blob"))
    assert len(stored) < len(expected) / 4  # zlib (django-redis' COMPRESSOR) kept
    assert zlib.decompress(stored).startswith(signing.VERSION)  # signed inside the compression


@pytest.mark.parametrize("compress", [False, True])
def test_a_planted_pickle_never_runs(tmp_path, compress):
    marker = tmp_path / "pwned"
    planted = pickle.dumps(WritesMarker(str(marker)))
    if compress:
        planted = zlib.compress(planted)
    before = untrusted("missing")
    get_redis("cache").set(cache.make_key("victim"), planted)
    assert cache.get("victim", "miss") == "miss"
    assert cache.get_many(["victim"]) == {}
    assert not marker.exists()
    assert untrusted("missing") == before + 2


def test_a_pickle_signed_with_another_key_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    body = pickle.dumps(WritesMarker(str(marker)))
    forged = signing.VERSION + signing._mac(signing.derive_key("attacker's guess"), body) + body
    before = untrusted("bad")
    get_redis("cache").set(cache.make_key("victim"), forged)
    assert cache.get("victim") is None
    assert asyncio.run(cache.aget("victim", "miss")) == "miss"
    assert not marker.exists()
    assert untrusted("bad") == before + 2


def test_a_planted_pickle_through_a_view_is_a_miss_not_a_500(client, tmp_path):
    marker = tmp_path / "pwned"
    user = get_user_model().objects.create_user("victim-user")
    get_redis("cache").set(cache.make_key(f"user:{user.pk}"), pickle.dumps(WritesMarker(str(marker))))
    response = client.get(f"/user/{user.pk}/")
    assert response.status_code == 200 and response.json()["source"] == "db"
    assert not marker.exists()


def test_rotation_reads_entries_signed_with_a_fallback_key():
    with override_settings(WINKR_CACHING={"SIGNING_KEY": "old-secret"}):
        cache.set("rotated", {"v": 1})
    with override_settings(WINKR_CACHING={"SIGNING_KEY": "new-secret", "SIGNING_KEY_FALLBACKS": ["old-secret"]}):
        assert cache.get("rotated") == {"v": 1}
    with override_settings(WINKR_CACHING={"SIGNING_KEY": "new-secret"}):
        assert cache.get("rotated") is None  # the old key retired: a miss


def test_secret_key_fallbacks_are_honoured_by_default():
    with override_settings(SECRET_KEY="first-secret-key-" + "x" * 40):
        cache.set("rotated", [1, 2])
    with override_settings(SECRET_KEY="second-secret-key-" + "y" * 40,
                           SECRET_KEY_FALLBACKS=["first-secret-key-" + "x" * 40]):
        assert cache.get("rotated") == [1, 2]
        cache.set("fresh", 3.5)
    with override_settings(SECRET_KEY="second-secret-key-" + "y" * 40, SECRET_KEY_FALLBACKS=[]):
        assert cache.get("fresh") == 3.5  # new entries are signed with the new key
        assert cache.get("rotated") is None


def test_the_signing_key_is_derived_not_the_raw_secret():
    from django.conf import settings

    assert signing.derive_key(settings.SECRET_KEY) != settings.SECRET_KEY.encode()
    assert len(signing.derive_key(settings.SECRET_KEY)) == 32


def test_verify_refuses_before_unpickling(monkeypatch):
    # pickle.loads is never reached for an unsigned payload.
    def boom(*args, **kwargs):
        msg = "pickle.loads ran on an unsigned payload"
        raise AssertionError(msg)

    monkeypatch.setattr(pickle, "loads", boom)
    serializer = signing.SignedPickleSerializer({})
    for payload in (b"", b"\x01", b"\x01" + b"\x00" * 40, pickle.dumps(1)):
        with pytest.raises(signing.UntrustedPayload):
            serializer.loads(payload)


def test_marker_class_really_writes_when_unpickled(tmp_path):
    # The planted object is a real threat: unpickled directly, it does write the file.
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(WritesMarker(str(marker)))).close()  # noqa: S301 - the point of the test
    assert marker.exists()
    os.remove(marker)
