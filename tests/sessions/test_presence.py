"""Online status: activity within ONLINE_WINDOW, or a live realtime connection (heartbeats with a TTL)."""

from __future__ import annotations

import time

from django.test import override_settings

from sessions_app import keys, services


def test_activity_makes_a_user_online_for_the_window():
    assert not services.is_user_online(1)
    assert services.last_seen(1) is None
    with override_settings(WINKR_SESSIONS={"ONLINE_WINDOW": 1}):
        services.create_session(1, kind="jwt")
        assert services.is_user_online(1)
        assert services.get_online_users() == ["1"]
        time.sleep(1.1)
        assert not services.is_user_online(1)
        assert services.get_online_users() == []
    assert services.last_seen(1) is not None


def test_connection_heartbeats_keep_a_user_online_until_the_last_socket_closes():
    services.mark_connection_alive(2, "phone", ttl=30)
    services.mark_connection_alive(2, "laptop", ttl=30)
    assert services.is_user_online(2)
    services.mark_connection_closed(2, "phone")
    assert services.is_user_online(2)
    assert services.get_online_users() == ["2"]
    services.mark_connection_closed(2, "laptop")
    assert not services.is_user_online(2)
    assert services.get_online_users() == []
    assert services.count_online_users() == 0


def test_a_connection_whose_disconnect_never_arrives_stops_counting_by_itself():
    services.mark_connection_alive(3, "vanished-phone", ttl=0.5)
    assert services.is_user_online(3)
    assert services.count_online_users() == 1
    time.sleep(0.6)
    assert not services.is_user_online(3)
    assert services.count_online_users() == 0


def test_closing_a_socket_leaves_recent_http_activity_counting():
    services.create_session(4, kind="jwt")  # login is activity
    services.mark_connection_alive(4, "ws-1", ttl=30)
    services.mark_connection_closed(4, "ws-1")
    assert services.is_user_online(4)
    assert services.get_online_users() == ["4"]


def test_online_users_are_paged_newest_first():
    for user in range(10):
        services.mark_connection_alive(user, "c", ttl=60 + user)  # later online-until: more recent
    assert services.get_online_users(limit=3) == ["9", "8", "7"]
    assert services.get_online_users(offset=3, limit=3) == ["6", "5", "4"]
    assert services.get_online_users(offset=20) == []
    assert services.count_online_users() == 10


def test_last_seen_follows_activity_and_connections(raw_redis):
    before = time.time()
    services.mark_connection_alive(5, "c", ttl=10)
    seen = services.last_seen(5)
    assert before - 0.01 <= seen.timestamp() <= time.time() + 0.01
    assert raw_redis.pttl(keys.last_seen_key("5")) > 0  # remembered for LAST_SEEN_TTL, not forever


def test_bad_connection_ids_are_refused():
    import pytest

    with pytest.raises(ValueError):
        services.mark_connection_alive(6, "", ttl=10)
    with pytest.raises(ValueError):
        services.mark_connection_alive(6, "c", ttl=0)


async def test_async_presence_hooks():
    await services.amark_connection_alive(7, "ws", ttl=30)
    assert await services.ais_user_online(7)
    await services.amark_connection_closed(7, "ws")
    assert not await services.ais_user_online(7)
