"""Hypothesis on WebSocket frames: whatever a client sends to ws/chat/ or ws/notifications/, it gets an
error frame with a code or a valid answer, the server never crashes, and the socket stays usable."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_app.routing import websocket_urlpatterns

from .conftest import PASSWORD

# The frame that ends the server's answer to one client frame (replays send messages before it).
ANSWERS = {"error", "pong", "chat.ack", "chat.synced", "notification.synced"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def frames(recipient_id: int):
    typed = st.fixed_dictionaries(
        {"type": st.sampled_from(["ping", "chat.message", "chat.sync", "notification.sync", "chat.deliver",
                                  "notification_deliver", "websocket.disconnect", "", "ping\x00"])},
        optional={"to": st.one_of(st.just(recipient_id), st.just(str(recipient_id)), json_values),
                  "text": json_values | st.text(min_size=1, max_size=3000),
                  "since": st.one_of(st.just("0-0"), st.just("$"), json_values),
                  "with": json_values, "client_id": json_values},
    )
    chat = st.builds(lambda to, text, client_id: {"type": "chat.message", "to": to, "text": text,
                                                  "client_id": client_id},
                     st.sampled_from([recipient_id, str(recipient_id), "0", "x:{y}", -1, 10**30]),
                     st.text(max_size=2500), st.one_of(st.none(), st.text(max_size=120), st.integers()))
    sync = st.builds(lambda kind, since, partner: {"type": kind, "since": since, "with": partner},
                     st.sampled_from(["chat.sync", "notification.sync"]),
                     st.one_of(st.sampled_from(["0", "0-0", "$", "-", "+", "1-x", "99999999999999999999-1"]),
                               st.text(max_size=30), st.integers()),
                     st.one_of(st.none(), st.just(recipient_id), st.text(max_size=20)))
    return st.one_of(
        st.one_of(chat, sync).map(lambda frame: ("text", json.dumps(frame))),
        typed.map(lambda frame: ("text", json.dumps(frame))),
        json_values.map(lambda value: ("text", json.dumps(value))),
        st.text(max_size=200).map(lambda text: ("text", text)),
        st.binary(max_size=200).map(lambda data: ("bytes", data)),
        st.just(("text", "{" * 5000)),
        st.just(("text", json.dumps({"type": "chat.message", "to": recipient_id, "text": "x" * 40_000}))),
    )


async def exchange(user, path: str, sent: list[tuple[str, object]]) -> list[dict]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=10)  # a deadline, not a measurement: CI machines are busy
    assert connected
    answers = []
    try:
        for kind, payload in [*sent, ("text", json.dumps({"type": "ping"}))]:
            # send_input, not send_to: send_to refuses the empty frames a client may still send.
            await communicator.send_input({"type": "websocket.receive", kind: payload})
            while True:
                frame = await communicator.receive_json_from(timeout=3)  # a close or a crash fails here
                assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
                if frame["type"] == "error":
                    assert isinstance(frame.get("code"), str) and frame["code"], frame
                if frame["type"] in ANSWERS:
                    answers.append(frame)
                    break
        assert answers[-1] == {"type": "pong"}  # still usable after everything it was sent
    finally:
        await communicator.disconnect()
    return answers


@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/notifications/"])
def test_any_frame_gets_an_error_with_a_code_or_an_answer(path, transactional_db, generous_rates):
    alice, bob = (get_user_model().objects.create_user(name, password=PASSWORD) for name in ("alice", "bob"))
    seen: dict[str, int] = {}

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(frames(bob.pk), min_size=1, max_size=6))
    def run(sent):
        for frame in asyncio.run(exchange(alice, path, sent)):
            key = frame.get("code", frame["type"])
            seen[key] = seen.get(key, 0) + 1

    run()
    assert seen.get("pong") and len(seen) >= 4, seen  # errors of several kinds, and answers
    print(f"\n{path}: answers by type/code {seen}")
