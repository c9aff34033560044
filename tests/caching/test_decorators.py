"""@cached on functions, coroutine functions and methods."""

import pytest

from caching_app.decorators import cached
from caching_app.foundation.connections import get_redis
from caching_app.service import cache_service, user_group

calls: list = []


@cached(kind="user_profile", key="{user_id}", group="user:{user_id}")
def load_profile(user_id, extra="x"):
    calls.append(user_id)
    return {"id": user_id, "extra": extra}


@cached(kind="photo_metadata", key=lambda user_id: ("photos", user_id), ttl=42)
async def load_photos(user_id):
    calls.append(("photos", user_id))
    return [user_id]


class Repository:
    def __init__(self, pk):
        self.pk = pk

    @cached(kind="match_recommendations", key="{self.pk}:{page}")
    def page(self, page):
        calls.append((self.pk, page))
        return [self.pk, page]


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def test_sync_function_cached_per_key():
    assert load_profile(1) == {"id": 1, "extra": "x"}
    assert load_profile(1) == {"id": 1, "extra": "x"}
    assert load_profile(user_id=1) == {"id": 1, "extra": "x"}  # same entry however it is called
    assert load_profile(2)["id"] == 2
    assert calls == [1, 2]


def test_group_and_invalidate_helpers():
    load_profile(3)
    cache_service.invalidate_group(user_group(3))
    load_profile(3)
    assert load_profile.invalidate(3)
    load_profile(3)
    assert calls == [3, 3, 3]
    assert load_profile.entry(3).group == "user:3"


def test_key_is_escaped_and_scoped_by_function():
    load_profile("a:b{c}")
    keys = [k.decode() for k in get_redis("cache").keys("winkr:cache:*")]
    assert any("a%3Ab%7Bc%7D" in key and "load_profile" in key for key in keys)


async def test_async_function_with_callable_key_and_ttl():
    assert await load_photos(5) == [5]
    assert await load_photos(5) == [5]
    assert calls == [("photos", 5)]
    assert 0 < get_redis("cache").ttl(load_photos.entry(5).key) <= 42 + 30
    assert await load_photos.invalidate(5)
    await load_photos(5)
    assert len(calls) == 2


def test_methods_use_self_in_the_key():
    first, second = Repository(1), Repository(2)
    assert first.page(1) == [1, 1]
    assert first.page(1) == [1, 1]
    assert second.page(1) == [2, 1]
    assert calls == [(1, 1), (2, 1)]
