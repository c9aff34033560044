from sessions_app import services
from sessions_app.backends.redis import SessionStore


def test_smoke():
    s = SessionStore()
    s["a"] = 1
    s.save()
    key = s.session_key
    s2 = SessionStore(key)
    assert s2["a"] == 1
    rec = services.create_session(5, kind="jwt", user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")
    print(rec)
    assert services.get_session(rec.id).user_id == "5"
    assert [r.id for r in services.list_sessions(5)] == [rec.id]
    assert services.is_user_online(5)
    assert services.get_online_users() == ["5"]
    assert services.count_active_sessions() == 1
    assert services.update_session_activity(rec.id) is False
    assert services.update_session_activity(rec.id, force=True) is True
    assert services.delete_all_sessions(5) == 1
    assert services.list_sessions(5) == []
    services.mark_connection_alive(6, "c1", 30)
    assert services.is_user_online(6)
    services.mark_connection_closed(6, "c1")
    assert not services.is_user_online(6)
    assert services.last_seen(6) is not None
    assert services.clear_expired() == 0
