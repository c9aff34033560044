"""Device sessions: the registry, its per-user index, eviction, expiry, signals and metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from prometheus_client import REGISTRY

from sessions_app import keys, services
from sessions_app.backends.redis import SessionStore
from sessions_app.indexes import SESSIONS
from tests.sessions.conftest import indexed

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
LINUX_CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
        "Safari/604.1")
ROOT = Path(__file__).resolve().parents[2]


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def cookie_session(user_id, **data) -> SessionStore:
    """A saved Django session of a logged-in user, as login() leaves it."""
    store = SessionStore()
    store[SESSION_KEY] = str(user_id)
    store.update(data)
    store.save()
    return store


def test_create_records_device_parsed_from_user_agent():
    record = services.create_session(7, kind="jwt", ip="10.0.0.7", user_agent=IPHONE)
    assert record.id.startswith("7.")
    assert record.kind == "jwt" and record.user_id == "7" and record.ip == "10.0.0.7"
    assert record.device == {"device_id": None, "device_type": "mobile", "os": "iOS 17",
                             "browser": "Mobile Safari", "location": None}
    assert services.get_session(record.id) == record


def test_client_sent_device_fields_win_over_the_user_agent():
    record = services.create_session(7, kind="jwt", user_agent=LINUX_CHROME,
                                     device={"device_id": "phone-123", "location": "Berlin", "device_type": "tablet",
                                             "unknown_field": "dropped"})
    assert record.device == {"device_id": "phone-123", "device_type": "tablet", "os": "Linux", "browser": "Chrome",
                             "location": "Berlin"}
    assert services.create_session(7, kind="jwt", user_agent=IPAD).device["device_type"] == "tablet"
    assert services.create_session(7, kind="jwt", user_agent=LINUX_CHROME).device["device_type"] == "desktop"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kind"):
        services.create_session(1, kind="carrier-pigeon")
    with pytest.raises(ValueError, match="session_id"):
        services.create_session(1, kind="jwt", session_id=keys.new_session_id(2))
    with pytest.raises(ValueError):
        services.get_online_users(limit=0)


def test_list_sessions_costs_one_users_index_and_is_per_user(raw_redis):
    mine = [services.create_session(1, kind="jwt", user_agent=IPHONE) for _ in range(3)]
    theirs = services.create_session(2, kind="jwt")
    assert {record.id for record in services.list_sessions(1)} == {record.id for record in mine}
    assert [record.id for record in services.list_sessions(2)] == [theirs.id]
    # The index is one sorted set per user, in the same Cluster slot as that user's sessions.
    index = keys.user_index_key("1")
    assert raw_redis.zcard(index) == 3
    assert index.split("{")[1].split("}")[0] == "1"
    assert all(keys.session_key(record.id).count("{1}") == 1 for record in mine)


def test_user_ids_that_are_not_key_safe_get_hashed_tags():
    record = services.create_session("weird:{id} with spaces", kind="jwt")
    tag = record.id.rsplit(".", 1)[0]
    assert tag.startswith("~") and ":" not in tag and "{" not in tag
    assert services.get_session(record.id).user_id == "weird:{id} with spaces"
    assert [r.id for r in services.list_sessions("weird:{id} with spaces")] == [record.id]


def test_delete_session_sends_signal_and_counts(revoked):
    record = services.create_session(3, kind="jwt")
    before = metric("winkr_sessions_deleted_total", kind="jwt", reason="revoked")
    assert services.delete_session(record.id) is True
    assert services.delete_session(record.id) is False
    assert services.get_session(record.id) is None
    assert revoked == [{"session_id": record.id, "user_id": "3", "kind": "jwt", "reason": "revoked"}]
    assert metric("winkr_sessions_deleted_total", kind="jwt", reason="revoked") == before + 1


def test_create_counts(revoked):
    before = metric("winkr_sessions_created_total", kind="cookie")
    store = cookie_session(4)
    services.create_session(4, kind="cookie", session_id=store.session_key)
    assert metric("winkr_sessions_created_total", kind="cookie") == before + 1


def test_delete_all_sessions_logs_out_everywhere(revoked):
    stores = [cookie_session(5, n=n) for n in range(2)]
    for store in stores:
        services.create_session(5, kind="cookie", session_id=store.session_key)
    jwt = services.create_session(5, kind="jwt")
    other = services.create_session(6, kind="jwt")
    assert services.delete_all_sessions(5) == 3
    assert services.list_sessions(5) == []
    assert {item["session_id"] for item in revoked} == {stores[0].session_key, stores[1].session_key, jwt.id}
    for store in stores:
        assert SessionStore(store.session_key).get(SESSION_KEY) is None  # that browser is logged out
    assert services.get_session(other.id) is not None
    assert services.count_active_sessions() == 1


@override_settings(WINKR_SESSIONS={"MAX_SESSIONS_PER_USER": 3})
def test_oldest_session_is_evicted_at_the_limit(revoked):
    created = []
    for _ in range(3):
        created.append(services.create_session(8, kind="jwt"))
        time.sleep(0.002)  # distinct creation times
    newest = services.create_session(8, kind="jwt")
    live = {record.id for record in services.list_sessions(8)}
    assert live == {created[1].id, created[2].id, newest.id}
    assert revoked == [{"session_id": created[0].id, "user_id": "8", "kind": "jwt", "reason": "evicted"}]
    assert services.count_active_sessions() == 3


def test_cookie_session_keeps_its_expiry_and_index_follows_saves(raw_redis):
    store = cookie_session(9)
    store.set_expiry(100)
    store.save()
    record = services.create_session(9, kind="cookie", session_id=store.session_key, user_agent=IPHONE)
    assert 95 < raw_redis.pttl(keys.session_key(store.session_key)) / 1000 <= 100
    store.set_expiry(500)
    store["x"] = 1
    store.save()  # one script: data, TTL and index entry together
    score = raw_redis.zscore(keys.user_index_key("9"), record.id)
    assert 495 < score / 1000 - time.time() <= 500
    assert SessionStore(store.session_key)["x"] == 1
    assert services.get_session(record.id).device["os"] == "iOS 17"


def test_expired_sessions_drop_out_of_the_index_on_read_and_on_clearsessions(raw_redis):
    short = services.create_session(10, kind="jwt", ttl=1)
    long = services.create_session(10, kind="jwt")
    other_short = services.create_session(11, kind="jwt", ttl=1)
    other_long = services.create_session(11, kind="jwt")
    time.sleep(1.1)
    assert [record.id for record in services.list_sessions(10)] == [long.id]
    assert raw_redis.zscore(keys.user_index_key("10"), short.id) is None
    assert short.id.encode() not in indexed(raw_redis, SESSIONS)  # the read unindexes what it trimmed
    # User 11 was never read: clearsessions (clear_expired) sweeps their index through the global one.
    assert raw_redis.zscore(keys.user_index_key("11"), other_short.id) is not None
    from django.core.management import call_command

    call_command("clearsessions")
    assert raw_redis.zscore(keys.user_index_key("11"), other_short.id) is None
    assert indexed(raw_redis, SESSIONS) == {long.id.encode(), other_long.id.encode()}
    assert services.count_active_sessions() == 2
    # An index whose sessions all expired expires with them.
    services.create_session(19, kind="jwt", ttl=1)
    time.sleep(1.1)
    assert not raw_redis.exists(keys.user_index_key("19"))


async def test_the_async_listing_trims_expired_entries_as_the_sync_one_does(raw_redis):
    short = await services.acreate_session(14, kind="jwt", ttl=1)
    long = await services.acreate_session(14, kind="jwt")
    await asyncio.sleep(1.1)
    assert [record.id for record in await services.alist_sessions(14)] == [long.id]
    assert raw_redis.zscore(keys.user_index_key("14"), short.id) is None
    assert short.id.encode() not in indexed(raw_redis, SESSIONS)


def test_a_records_json_has_every_field_with_iso_8601_times_and_its_own_device_dict():
    record = services.create_session(13, kind="jwt", user_agent=IPHONE, ip="203.0.113.9")
    data = record.as_dict()
    assert set(data) == {field.name for field in dataclasses.fields(record)}
    assert data == {**{field.name: getattr(record, field.name) for field in dataclasses.fields(record)},
                    "created_at": record.created_at.isoformat(), "last_activity": record.last_activity.isoformat(),
                    "expires_at": record.expires_at.isoformat()}
    assert json.loads(json.dumps(data)) == data
    data["device"]["os"] = "changed"
    assert record.device["os"] == "iOS 17"


def test_sweep_keeps_sessions_extended_since_the_global_index_saw_them(raw_redis):
    store = cookie_session(12)
    store.set_expiry(1)
    store.save()
    services.create_session(12, kind="cookie", session_id=store.session_key)
    store.set_expiry(600)
    store.save()  # extends the session; the global index still holds the old expiry
    time.sleep(1.1)
    assert services.clear_expired() == 0
    assert services.count_active_sessions() == 1
    assert [record.id for record in services.list_sessions(12)] == [store.session_key]


def test_activity_is_throttled_per_session(raw_redis):
    record = services.create_session(13, kind="jwt")
    assert services.update_session_activity(record.id) is False  # just created: inside the interval
    with override_settings(WINKR_SESSIONS={"ACTIVITY_UPDATE_INTERVAL": 0}):
        assert services.update_session_activity(record.id) is True
    assert services.update_session_activity("garbage") is False
    assert services.update_session_activity(keys.new_session_id(13)) is False


def test_jwt_sessions_slide_on_activity(raw_redis):
    record = services.create_session(14, kind="jwt", ttl=5)
    raw_redis.pexpire(keys.session_key(record.id), 1000)
    services.update_session_activity(record.id, force=True)
    assert raw_redis.pttl(keys.session_key(record.id)) > 4000


def test_tampered_or_foreign_ids_never_reach_redis_keys():
    for bad in ["", "x", "../../etc", "1.short", "1." + "A" * 32, "a b." + "a" * 32, None, 12, "1:{2}." + "a" * 32]:
        assert services.get_session(bad) is None
        assert services.delete_session(bad) is False


def test_cycle_key_of_a_logged_in_session_keeps_its_device_record(revoked):
    store = cookie_session(15, a=1)
    services.create_session(15, kind="cookie", session_id=store.session_key, user_agent=IPHONE)
    old = store.session_key
    store.cycle_key()
    assert store.session_key != old and store.session_key.startswith("15.")
    assert services.get_session(old) is None
    moved = services.get_session(store.session_key)
    assert moved.device["os"] == "iOS 17"
    assert [record.id for record in services.list_sessions(15)] == [store.session_key]
    assert SessionStore(store.session_key)["a"] == 1
    assert revoked == []  # the same device: nothing to revoke
    assert services.count_active_sessions() == 1


def test_logout_flush_removes_the_device_session(revoked):
    store = cookie_session(16)
    services.create_session(16, kind="cookie", session_id=store.session_key)
    key = store.session_key
    store.flush()
    assert services.list_sessions(16) == []
    assert revoked == [{"session_id": key, "user_id": "16", "kind": "cookie", "reason": "logout"}]


def test_revoked_session_is_not_resurrected_by_an_in_flight_save():
    from django.contrib.sessions.backends.base import UpdateError

    store = cookie_session(17)
    services.create_session(17, kind="cookie", session_id=store.session_key)
    in_flight = SessionStore(store.session_key)
    in_flight["x"] = 1
    services.delete_session(store.session_key)
    with pytest.raises(UpdateError):
        in_flight.save()
    assert not SessionStore().exists(store.session_key)


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b"[1, 2]", b"{\"unterminated\": "])
def test_corrupt_data_in_redis_gives_an_empty_session(raw_redis, raw):
    store = cookie_session(18, keep="me")
    raw_redis.hset(keys.session_key(store.session_key), "d", raw)
    loaded = SessionStore(store.session_key)
    assert dict(loaded.items()) == {}


async def test_async_twins():
    record = await services.acreate_session(20, kind="jwt", user_agent=IPHONE)
    assert (await services.aget_session(record.id)).device["os"] == "iOS 17"
    assert [r.id for r in await services.alist_sessions(20)] == [record.id]
    assert await services.aupdate_session_activity(record.id, force=True) is True
    assert await services.ais_user_online(20)
    assert "20" in await services.aget_online_users()
    assert await services.acount_online_users() >= 1
    assert await services.acount_active_sessions() == 1
    assert await services.alast_seen(20) is not None
    assert await services.adelete_session(record.id) is True
    second = await services.acreate_session(20, kind="jwt")
    assert await services.adelete_all_sessions(20) == 1
    assert await services.aget_session(second.id) is None
    assert await services.aclear_expired() == 0


WORKER = """
import json, os, sys, time
import django
django.setup()
from django.contrib.auth import SESSION_KEY
from sessions_app import services
from sessions_app.backends.redis import SessionStore
start, user, rounds = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
ids = []
for n in range(rounds):
    store = SessionStore()
    store[SESSION_KEY] = user
    store["n"] = n
    store.save()
    services.create_session(user, kind="cookie", session_id=store.session_key, user_agent="worker")
    for m in range(3):
        store["m"] = m
        try:
            store.save()
        except Exception as exc:  # evicted by the other process meanwhile: Django's UpdateError
            assert type(exc).__name__ == "UpdateError", exc
            break
    ids.append(store.session_key)
print(json.dumps(ids))
"""


def test_two_processes_logging_in_and_saving_at_once_leave_a_consistent_index(redis_server, raw_redis):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "REDIS_URL": redis_server.url,
           "MAX_SESSIONS_PER_USER": "4", "PYTHONPATH": str(ROOT)}
    start = time.time() + 1.5
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(start), "42", "25"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=60) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    created = [sid for out, _ in outputs for sid in json.loads(out)]
    assert len(set(created)) == 50

    index = {member.decode() for member in raw_redis.zrange(keys.user_index_key("42"), 0, -1)}
    alive = {sid for sid in created if raw_redis.exists(keys.session_key(sid))}
    # Every indexed session exists, every existing session is indexed, and the limit holds.
    assert index == alive
    assert len(index) == 4
    assert {m.decode() for m in indexed(raw_redis, SESSIONS)} == index
    assert all(raw_redis.hget(keys.session_key(sid), "u") == b"42" for sid in index)


def test_session_keys_are_the_ones_make_key_builds():
    from caching_app.foundation.keys import make_key

    for session_id in (keys.new_session_id(1), keys.new_session_id("x:{y}"), keys.new_session_id()):
        tag, random_part = keys.parse_session_id(session_id)
        expected = make_key("session", "s", random_part, tag=tag) if tag else make_key("session", "s", tag=random_part)
        assert keys.session_key(session_id) == expected
    with override_settings(WINKR_CACHING={"KEY_PREFIX": "other"}):
        assert keys.session_key(keys.new_session_id(1)).startswith("other:session:{1}:s:")
