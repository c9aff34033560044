"""Session engine cost per request: ours against Django's ``cache`` engine (django-redis) and ``db`` engine.

- load: a request that reads its session (construct the store, read a key).
- load+save: a request that changes its session (read, write a key, save as SessionMiddleware does).
- round trips per request, counted with the connection layer's command metrics.
- Redis memory per session: MEMORY USAGE of the session (ours: data and device record in one
  hash, plus its share of the user's index and the global index) against the cache engine's key.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cache import SessionStore as CacheStore
from django.contrib.sessions.backends.db import SessionStore as DbStore
from prometheus_client import REGISTRY

from sessions_app import keys, services
from sessions_app.backends.redis import SessionStore as RedisStore

USER_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.0 Mobile/15E148 Safari/604.1")


def logged_in_data(user_id: int) -> dict[str, Any]:
    """What login() and a typical app leave in a session."""
    return {
        SESSION_KEY: str(user_id), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: "f" * 64, "_csrftoken": "c" * 32, "cart": [1, 2, 3], "theme": "dark",
    }


def make_session(store_class: type, user_id: int) -> str:
    store = store_class()
    store.update(logged_in_data(user_id))
    store.save()
    if store_class is RedisStore:
        services.create_session(user_id, kind="cookie", session_id=store.session_key, user_agent=USER_AGENT)
    return store.session_key


def load_request(store_class: type, key: str):
    def request() -> None:
        store = store_class(key)
        store.get(SESSION_KEY)

    return request


def modify_request(store_class: type, key: str):
    counter = [0]

    def request() -> None:
        store = store_class(key)
        store.get(SESSION_KEY)
        counter[0] += 1
        store["counter"] = counter[0]
        store.save()

    return request


def commands_sent() -> float:
    total = 0.0
    for family in REGISTRY.collect():
        if family.name == "winkr_redis_commands":
            total += sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    return total


def round_trips(fn, calls: int = 50) -> float:
    before = commands_sent()
    for _ in range(calls):
        fn()
    return (commands_sent() - before) / calls


def run(bench) -> None:
    bench.flush()
    ours_key = make_session(RedisStore, 1)
    cache_key = make_session(CacheStore, 1)
    db_key = make_session(DbStore, 1)
    _compare_speed(bench, ours_key, cache_key, db_key)
    _round_trips(bench, ours_key, cache_key)
    _memory(bench)


def _compare_speed(bench, ours_key: str, cache_key: str, db_key: str) -> None:
    """A request reading its session, and one changing it, timed against Django's cache and db engines."""
    number = 2000

    bench.compare("Sessions", "load (request reading its session) vs cache engine",
                  ours=load_request(RedisStore, ours_key), anchor=load_request(CacheStore, cache_key),
                  anchor_name="Django cache engine (django-redis)", number=number,
                  target="within 1.1x of the cache engine", target_ratio=1 / 1.1)
    bench.compare("Sessions", "load vs db engine", ours=load_request(RedisStore, ours_key),
                  anchor=load_request(DbStore, db_key), anchor_name="Django db engine (SQLite)", number=number)
    bench.compare("Sessions", "load+save (request changing its session) vs cache engine",
                  ours=modify_request(RedisStore, ours_key), anchor=modify_request(CacheStore, cache_key),
                  anchor_name="Django cache engine (django-redis)", number=number // 2,
                  target="faster than the cache engine", target_ratio=1.0)
    bench.compare("Sessions", "load+save vs db engine", ours=modify_request(RedisStore, ours_key),
                  anchor=modify_request(DbStore, db_key), anchor_name="Django db engine (SQLite)", number=number // 4)


def _round_trips(bench, ours_key: str, cache_key: str) -> None:
    load_trips = round_trips(load_request(RedisStore, ours_key))
    save_trips = round_trips(modify_request(RedisStore, ours_key))
    bench.figure("Sessions", "round trips: load (ours)", load_trips, "round trips", target="1", met=load_trips == 1)
    bench.figure("Sessions", "round trips: load (cache engine)", round_trips(load_request(CacheStore, cache_key)),
                 "round trips")
    bench.figure("Sessions", "round trips: load+save (ours)", save_trips, "round trips",
                 target="load 1 + save 1 (data and device index together)", met=save_trips == 2)
    bench.figure("Sessions", "round trips: load+save (cache engine)",
                 round_trips(modify_request(CacheStore, cache_key)), "round trips")


def _memory(bench) -> None:
    """Memory: many users, one logged-in device each, so the per-user and global index shares are real."""
    bench.flush()
    users = 200 if bench.quick else 2000
    ours = [make_session(RedisStore, user) for user in range(1, users + 1)]
    cached = [make_session(CacheStore, user) for user in range(1, users + 1)]
    from caching_app.foundation.connections import get_redis

    state, cache = get_redis("state"), get_redis("cache")
    sample = ours[: min(200, users)]
    per_hash = sum(state.memory_usage(keys.session_key(key), samples=0) for key in sample) / len(sample)
    per_index = sum(state.memory_usage(keys.user_index_key(keys.user_tag(user)), samples=0)
                    for user in range(1, len(sample) + 1)) / len(sample)
    per_presence = sum(state.memory_usage(keys.presence_key(keys.user_tag(user)), samples=0)
                       + state.memory_usage(keys.last_seen_key(keys.user_tag(user)), samples=0)
                       for user in range(1, len(sample) + 1)) / len(sample)
    from sessions_app.indexes import INDEXES

    global_share = sum(state.memory_usage(key, samples=0) or 0
                       for index in INDEXES for key in index.bucket_keys()) / users
    cache_keys = [CacheStore(key).cache_key for key in cached[: len(sample)]]
    from django.core.cache import cache as django_cache

    per_cache = sum(cache.memory_usage(django_cache.make_key(key), samples=0) for key in cache_keys) / len(sample)
    ours_total = per_hash + per_index + global_share
    bench.figure("Sessions memory", "ours: session hash (data + device record)", round(per_hash), "bytes")
    bench.figure("Sessions memory", "ours: per-user index + share of the all-users indexes",
                 round(per_index + global_share), "bytes")
    bench.figure("Sessions memory", "ours: total per logged-in session", round(ours_total), "bytes")
    bench.figure("Sessions memory", "ours: presence per online user (sources + last seen)", round(per_presence),
                 "bytes")
    bench.figure("Sessions memory", "cache engine: session key (no device record, no index)", round(per_cache),
                 "bytes")
