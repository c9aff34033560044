"""Presence from open sockets: online until the last one closes, and expiring when no disconnect comes."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from realtime_app.presence import SessionsPresence, is_user_connected

pytestmark = pytest.mark.django_db(transaction=True)


async def online(user) -> bool:
    return await sync_to_async(is_user_connected)(user.pk)


async def test_online_until_the_last_socket_closes(users, connect):
    bob = users["bob"]
    assert not await online(bob)
    chat_socket = await connect(bob)
    notes_socket = await connect(bob, "/ws/notifications/")
    assert await online(bob)
    await chat_socket.disconnect()
    assert await online(bob)
    await notes_socket.disconnect()
    assert not await online(bob)
    assert not await online(users["alice"])


@override_settings(WINKR_REALTIME={"PRESENCE_TTL": 1})
async def test_a_connection_whose_disconnect_never_arrives_expires(users):
    # What a crashed server process leaves behind: an entry nobody refreshes or removes.
    presence = SessionsPresence()
    await presence.aconnection_alive(users["bob"].pk, "specific.dead-process!abc")
    assert await online(users["bob"])
    await asyncio.sleep(1.2)
    assert not await online(users["bob"])


@override_settings(WINKR_REALTIME={"PRESENCE_TTL": 1, "HEARTBEAT_INTERVAL": 0.25})
async def test_heartbeats_keep_an_open_socket_online(users, connect):
    await connect(users["bob"])
    await asyncio.sleep(1.5)
    assert await online(users["bob"])


@override_settings(WINKR_REALTIME={"PRESENCE_TTL": 1, "HEARTBEAT_INTERVAL": 0.25})
async def test_a_dead_connection_does_not_keep_the_user_online_beside_a_live_one(users, connect):
    presence = SessionsPresence()
    await presence.aconnection_alive(users["bob"].pk, "specific.crashed")
    socket = await connect(users["bob"])
    await asyncio.sleep(1.3)  # the crashed connection has expired, the live one kept beating
    assert await online(users["bob"])
    await socket.disconnect()
    assert not await online(users["bob"])
