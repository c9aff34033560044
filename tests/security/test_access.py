"""No user reaches another's sessions, messages, notifications or presence beyond what the API grants;
the admin sessions page is staff-only; logins cycle the session key."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from realtime_app import chat, notifications
from sessions_app import services

from .conftest import PASSWORD, bearer_for


def api(user) -> Client:
    client = Client(raise_request_exception=False)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {bearer_for(user)}"
    return client


def test_sessions_of_another_user_are_invisible_and_untouchable(people, generous_rates):
    alice, mallory = people["alice"], people["mallory"]
    alice_api, mallory_api = api(alice), api(mallory)
    alice_sessions = alice_api.get("/api/sessions/").json()
    assert alice_sessions
    alice_sid = alice_sessions[0]["id"]
    listed = {record["id"] for record in mallory_api.get("/api/sessions/").json()}
    assert alice_sid not in listed
    for method in (mallory_api.get, mallory_api.delete):
        response = method(f"/api/sessions/{alice_sid}/")
        assert response.status_code in (404, 405), response.status_code
    gone = mallory_api.delete("/api/sessions/no-such-session/")
    mine = mallory_api.delete(f"/api/sessions/{alice_sid}/")
    assert mine.status_code == gone.status_code == 404 and mine.json() == gone.json()  # no existence oracle
    assert services.get_session(alice_sid) is not None
    assert alice_api.get("/api/sessions/").status_code == 200  # alice is still logged in


def test_chat_history_only_shows_the_callers_own_conversations(people, generous_rates):
    alice, bob, mallory = people["alice"], people["bob"], people["mallory"]
    chat.send_message(alice, bob.pk, "secret for bob")
    mallory_api = api(mallory)
    for partner in (alice, bob):
        page = mallory_api.get(f"/api/chat/{partner.pk}/messages/").json()
        assert page["messages"] == [], page  # mallory's conversation with them, which is empty
    assert [m["text"] for m in api(bob).get(f"/api/chat/{alice.pk}/messages/").json()["messages"]] == [
        "secret for bob"]


def test_notifications_are_per_user(people, generous_rates):
    alice, mallory = people["alice"], people["mallory"]
    notifications.publish_notification(alice.pk, "match", "A match", {"with": "bob"})
    assert api(mallory).get("/api/notifications/").json()["notifications"] == []
    assert len(api(alice).get("/api/notifications/").json()["notifications"]) == 1


def test_presence_gives_only_online_and_last_seen(people, generous_rates):
    alice, mallory = people["alice"], people["mallory"]
    api(alice).get("/api/sessions/")
    body = api(mallory).get(f"/api/users/{alice.pk}/presence/").json()
    assert set(body) == {"online", "last_seen"}  # no sessions, devices, IPs or user agents


def test_profile_writes_are_only_your_own(people, generous_rates):
    alice, mallory = people["alice"], people["mallory"]
    response = api(mallory).post(f"/api/profiles/{alice.pk}/photos/", {"url": "https://x/y.jpg", "width": 1,
                                                                          "height": 1}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "not_owner"


async def test_a_socket_only_receives_its_own_users_events(people, generous_rates, transactional_db):
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from realtime_app.routing import websocket_urlpatterns

    alice, bob, mallory = people["alice"], people["bob"], people["mallory"]
    sockets = {}
    for name, user, path in (("mallory-chat", mallory, "/ws/chat/"), ("mallory-notes", mallory, "/ws/notifications/"),
                             ("bob-chat", bob, "/ws/chat/")):
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        assert (await communicator.connect())[0]
        sockets[name] = communicator
    try:
        await chat.asend_message(alice, bob.pk, "for bob only")
        await notifications.apublish_notification(bob.pk, "match", "A match", {"with": "alice"})
        assert (await sockets["bob-chat"].receive_json_from(timeout=3))["text"] == "for bob only"
        # mallory asks to replay alice's conversation with bob: she gets her own (empty) history only
        await sockets["mallory-chat"].send_json_to({"type": "chat.sync", "since": "0", "with": bob.pk})
        synced = await sockets["mallory-chat"].receive_json_from(timeout=3)
        assert synced["type"] == "chat.synced" and synced["count"] == 0
        assert await sockets["mallory-chat"].receive_nothing(timeout=0.3)
        assert await sockets["mallory-notes"].receive_nothing(timeout=0.3)
    finally:
        for communicator in sockets.values():
            await communicator.disconnect()


def test_admin_sessions_page_is_staff_only(people, django_user_model, generous_rates):
    url = "/admin/winkr_sessions/livesession/"
    anonymous = Client()
    assert anonymous.get(url).status_code == 302  # to the admin login
    member = Client()
    member.force_login(people["mallory"])
    response = member.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert member.post(url, {"action": "revoke_user", "user_id": people["alice"].pk}).status_code == 302
    staff_without_permission = django_user_model.objects.create_user("intern", password=PASSWORD, is_staff=True)
    intern = Client(raise_request_exception=False)
    intern.force_login(staff_without_permission)
    assert intern.get(url).status_code == 403
    assert intern.post(url, {"action": "revoke_user", "user_id": people["alice"].pk}).status_code == 403
    admin_user = django_user_model.objects.create_superuser("root", password=PASSWORD)
    root = Client()
    root.force_login(admin_user)
    assert root.get(url).status_code == 200


def test_login_cycles_the_session_key(people, django_user_model, generous_rates):
    """The project's cookie login is the admin's (the API logs in with JWTs): a planted key must not survive it."""
    django_user_model.objects.create_superuser("staff", password=PASSWORD)
    client = Client()
    client.get("/admin/login/")
    session = client.session
    session["planted"] = "by an attacker"
    session.save()
    planted_key = session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = planted_key
    response = client.post("/admin/login/?next=/admin/", {"username": "staff", "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key and new_key != planted_key
    store = client.session.__class__
    assert not store().exists(planted_key)  # the pre-login key is gone from Redis
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted_key
    assert attacker.get("/api/sessions/").status_code == 401  # the planted key is not logged in
    victim = client.get("/api/sessions/")
    assert victim.status_code == 200 and json.loads(victim.content)


@pytest.mark.parametrize("path", ["/api/sessions/", "/api/notifications/", f"/api/chat/{1}/messages/",
                                  "/api/matches/", "/api/auth/me/"])
def test_protected_endpoints_refuse_anonymous_callers(people, generous_rates, path):
    response = Client().get(path)
    assert response.status_code == 401 and "detail" in response.json()
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
