"""The sharded all-users indexes: buckets on every master, counts and pages identical to one sorted set,
and the migration from the single-key indexes with no downtime."""

from __future__ import annotations

import random
import time
from io import StringIO

import pytest
import redis as redis_py
from django.core.management import CommandError, call_command
from django.test import override_settings
from redis.crc import key_slot

from caching_app.foundation.connections import get_redis
from caching_app.foundation.twins import Pipe, run
from sessions_app import checks, device_steps, indexes, keys, services
from sessions_app.indexes import ONLINE, SESSIONS
from tests.sessions.conftest import indexed

PAGES = [(0, 1), (0, 7), (3, 10), (0, 1000), (17, 33), (250, 50), (599, 1), (590, 100), (1000, 5)]


def reference_pages(reference, key: str, now: int) -> dict[tuple[int, int], list[str]]:
    return {(offset, limit): [m.decode() for m in reference.zrevrangebyscore(key, "+inf", f"({now}",
                                                                               start=offset, num=limit)]
            for offset, limit in PAGES}


def merged_pages(index, now: int, direct_offset: int) -> dict[tuple[int, int], list[str]]:
    client = get_redis("state")
    return {(offset, limit): run(index.page(offset, limit, now, direct_offset), client) for offset, limit in PAGES}


def copy_into_one_key(client, index, reference, key: str) -> None:
    """The single-key reference: every bucket's entries in one sorted set on a standalone server."""
    reference.delete(key)
    for bucket in index.read_keys():
        entries = dict(client.zrange(bucket, 0, -1, withscores=True))
        if entries:
            reference.zadd(key, entries)


def test_bucket_tags_are_stable_and_spread_over_the_slot_space():
    for index in (keys.SESSIONS_INDEX, keys.ONLINE_INDEX):
        tags = keys.index_bucket_tags(index, 16)
        assert len(set(tags)) == 16
        slots = [key_slot(keys.index_key(index, tag).encode()) for tag in tags]
        assert all(bucket * 1024 <= slot < (bucket + 1) * 1024 for bucket, slot in enumerate(slots))
        assert all("." in tag and not keys._PLAIN_TAG.fullmatch(tag) for tag in tags)  # never a user's tag
    all_slots = {key_slot(key.encode()) for index in indexes.INDEXES for key in index.bucket_keys()}
    assert len(all_slots) == 32
    # The bucket of a member is a stable hash, the same in every process (not Python's salted hash()).
    assert keys.index_bucket("42", 16) == 8 and keys.index_bucket("42.abc", 16) == 3


def test_index_buckets_setting_is_checked():
    assert checks.check_sessions_settings() == []
    for bad in (0, 257, "16", 2.5, True):
        with override_settings(WINKR_SESSIONS={"INDEX_BUCKETS": bad}):
            assert [e.id for e in checks.check_sessions_settings()] == ["winkr_sessions.E005"], bad


def _populate(users: int, seed: int) -> tuple[set[str], set[str]]:
    """Device sessions through the services (several per user, different TTLs), sockets for some."""
    rng = random.Random(seed)
    session_ids, online = set(), set()
    for user in range(1, users + 1):
        for _ in range(rng.randint(1, 3)):
            session_ids.add(services.create_session(user, kind="jwt", ttl=rng.randint(600, 86400)).id)
        online.add(str(user))
        if user % 3 == 0:
            services.mark_connection_alive(user, f"ws-{user}", ttl=rng.randint(301, 900))
    return session_ids, online


def _add_ties(count: int) -> None:
    """Entries sharing a few scores, so the merge's tie order (member descending) is exercised too."""
    until = device_steps.now_ms() + 3_600_000
    scores = {f"tie{n:04d}": until + n % 3 for n in range(count)}
    run(_steps(Pipe(ONLINE.add(scores, legacy=False))), get_redis("state"))


def _steps(*steps):
    """An op of fixed steps (the runner sends each reply back in, which ``yield from`` a tuple refuses)."""
    for step in steps:  # noqa: UP028
        yield step


def _assert_same_as_one_key(client, reference) -> None:
    now = device_steps.now_ms()
    for index, name in ((SESSIONS, "ref:sessions"), (ONLINE, "ref:online")):
        copy_into_one_key(client, index, reference, name)
        expected = reference_pages(reference, name, now)
        assert merged_pages(index, now, direct_offset=indexes.DIRECT_OFFSET) == expected
        assert merged_pages(index, now, direct_offset=-1) == expected  # every page through the score search
        assert run(index.count(now), client) == reference.zcount(name, f"({now}", "+inf")


@pytest.mark.cluster
def test_buckets_on_every_master_with_counts_and_pages_of_one_key(redis_cluster, use_redis, redis_server):
    redis_cluster.flush()
    use_redis(f"redis://{redis_cluster.seeds[0]}/0", MODE="cluster", CLUSTER_NODES=redis_cluster.seeds)
    session_ids, online = _populate(300, seed=7)
    _add_ties(40)
    client = get_redis("state")

    # Every master holds buckets of both indexes (and nothing is left in the legacy single keys).
    owners: dict[str, int] = {}
    for node in redis_cluster.nodes:
        node_client = redis_py.Redis(port=node.port)
        for index in indexes.INDEXES:
            for key in index.bucket_keys():
                slot = node_client.cluster("keyslot", key)
                assert slot == key_slot(key.encode())
                if node_client.cluster("countkeysinslot", slot):  # counts this node's own keys only
                    owners[key] = node.port
    assert len(owners) == 32  # every bucket of both indexes holds entries
    per_master = {port: sum(1 for owner in owners.values() if owner == port) for port in
                  (node.port for node in redis_cluster.nodes)}
    assert sorted(per_master.values()) == [10, 10, 12], per_master
    assert not client.exists(SESSIONS.legacy_key) and not client.exists(ONLINE.legacy_key)

    assert {m.decode() for m in indexed(client, SESSIONS)} == session_ids
    assert services.count_active_sessions() == len(session_ids)
    assert services.count_online_users() == len(online) + 40
    reference = redis_py.Redis(port=redis_server.port)
    _assert_same_as_one_key(client, reference)
    assert services.get_online_users(0, 5) == [f"tie{n:04d}" for n in (38, 35, 32, 29, 26)]
    browsed = [record.id for record in services.browse_sessions(offset=10, limit=20)]
    expected = reference.zrevrangebyscore("ref:sessions", "+inf", f"({device_steps.now_ms()}", start=10, num=20)
    assert browsed == [m.decode() for m in expected] and len(browsed) == 20
    assert services.clear_expired() == 0


def test_pages_and_counts_match_one_key_on_a_single_server(raw_redis):
    _populate(200, seed=3)
    _add_ties(30)
    _assert_same_as_one_key(get_redis("state"), raw_redis)
    assert services.get_online_users(10_000, 10) == []
    with pytest.raises(ValueError):
        services.get_online_users(-1, 10)


def _to_legacy(client, index) -> int:
    """What the previous release left: every entry in the single {global} key, none in buckets."""
    moved = 0
    for key in index.bucket_keys():
        entries = dict(client.zrange(key, 0, -1, withscores=True))
        if entries:
            client.zadd(index.legacy_key, entries)
            client.delete(key)
            moved += len(entries)
    return moved


def test_reads_consult_the_legacy_keys_until_the_sweep_or_the_command_moves_them(raw_redis):
    session_ids, online = _populate(60, seed=5)
    assert _to_legacy(raw_redis, SESSIONS) == len(session_ids)
    assert _to_legacy(raw_redis, ONLINE) == len(online)
    indexes.forget_legacy_state()
    # Reads see the old entries.
    assert services.count_active_sessions() == len(session_ids)
    assert services.count_online_users() == len(online)
    assert set(services.get_online_users(0, 1000)) == online
    # A write moves its member: counted once, not twice.
    touched = sorted(session_ids)[0]
    assert services.update_session_activity(touched, force=True)
    assert raw_redis.zscore(SESSIONS.legacy_key, touched) is None
    assert raw_redis.zscore(SESSIONS.key_for(touched), touched) is not None
    assert services.count_active_sessions() == len(session_ids)
    assert services.count_online_users() == len(online)
    # A login and a logout during the migration.
    fresh = services.create_session(999, kind="jwt")
    gone = sorted(session_ids)[1]
    assert services.delete_session(gone)
    assert services.count_active_sessions() == len(session_ids)
    assert raw_redis.zscore(SESSIONS.legacy_key, gone) is None

    before = {index.name: _page_all(index) for index in indexes.INDEXES}
    out = StringIO()
    call_command("sessions", "migrate-indexes", stdout=out)
    assert f"Moved {len(session_ids) - 2} all entries, {len(online) - 1} online entries" in out.getvalue()
    assert not raw_redis.exists(SESSIONS.legacy_key) and not raw_redis.exists(ONLINE.legacy_key)
    assert {index.name: _page_all(index) for index in indexes.INDEXES} == before
    assert {m.decode() for m in indexed(raw_redis, SESSIONS)} == session_ids - {gone} | {fresh.id}
    assert services.count_active_sessions() == len(session_ids)
    # Migrated: writes stop sending anything to the legacy slot.
    assert not run(indexes.legacy_present(), get_redis("state"))
    assert "Moved 0 all entries, 0 online entries" in _migrate()


def test_the_sweep_migrates_the_legacy_keys_and_drops_expired_legacy_entries(raw_redis):
    session_ids, online = _populate(20, seed=9)
    short = services.create_session(77, kind="jwt", ttl=1)
    _to_legacy(raw_redis, SESSIONS)
    _to_legacy(raw_redis, ONLINE)
    raw_redis.zadd(ONLINE.legacy_key, {"gone-user": device_steps.now_ms() - 1000})
    indexes.forget_legacy_state()
    deadline = time.monotonic() + 10
    while services.count_active_sessions() > len(session_ids) and time.monotonic() < deadline:
        time.sleep(0.05)  # the short session expires (its score passes)
    assert services.clear_expired() == 1
    assert not raw_redis.exists(SESSIONS.legacy_key) and not raw_redis.exists(ONLINE.legacy_key)
    assert {m.decode() for m in indexed(raw_redis, SESSIONS)} == session_ids
    assert short.id not in {m.decode() for m in indexed(raw_redis, SESSIONS)}
    assert {m.decode() for m in indexed(raw_redis, ONLINE)} == online | {"77"}


def test_changing_index_buckets_migrates_with_the_command(raw_redis):
    with override_settings(WINKR_SESSIONS={"INDEX_BUCKETS": 4}):
        session_ids, online = _populate(40, seed=11)
        assert len([key for key in SESSIONS.bucket_keys() if raw_redis.exists(key)]) == 4
    assert "Moved" in _migrate("--from-buckets", "4")
    assert {m.decode() for m in indexed(raw_redis, SESSIONS)} == session_ids
    assert services.count_active_sessions() == len(session_ids)
    assert services.count_online_users() == len(online)
    assert not any(raw_redis.exists(key) and key not in SESSIONS.bucket_keys()
                   for key in SESSIONS.bucket_keys(4))
    with pytest.raises(CommandError, match="from 1 to 256"):
        _migrate("--from-buckets", "0")


def _page_all(index) -> list[str]:
    return run(index.page(0, 1000, device_steps.now_ms()), get_redis("state"))


def _migrate(*args: str) -> str:
    out = StringIO()
    call_command("sessions", "migrate-indexes", *args, stdout=out)
    return out.getvalue()


@pytest.mark.cluster
async def test_async_services_read_and_write_the_buckets_on_a_cluster(redis_cluster, use_redis):
    redis_cluster.flush()
    use_redis(f"redis://{redis_cluster.seeds[0]}/0", MODE="cluster", CLUSTER_NODES=redis_cluster.seeds)
    created = [await services.acreate_session(user, kind="jwt") for user in range(1, 41)]
    for user in range(1, 41, 2):
        await services.amark_connection_alive(user, f"ws-{user}", ttl=600)
    assert await services.acount_active_sessions() == 40
    assert await services.acount_online_users() == 40
    # Socket holders are online longest (600 s against the 300 s login window): they come first.
    first = await services.aget_online_users(0, 20)
    assert sorted(first, key=int) == [str(user) for user in range(1, 41, 2)]
    assert await services.aget_online_users(20, 20) == services.get_online_users(20, 20)
    await services.amark_connection_closed(1, "ws-1")
    assert "1" not in await services.aget_online_users(0, 20)
    assert await services.adelete_session(created[0].id)
    assert await services.acount_active_sessions() == 39
    assert await services.aclear_expired() == 0
