"""Replay reads every conversation in one round trip (issue 18): counted on the wire, not inferred.

The round trips are the requests redis.asyncio writes (bench/roundtrips.py); the test server's own
``INFO commandstats`` confirms every conversation was read. The messages are stored by the app's own
``asend_message``, so the Streams and the partner index are the ones production writes.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import override_settings

from bench.roundtrips import RoundTrips, ServerCounts
from realtime_app import chat
from realtime_app.chat import ChatMessage, areplay, asend_message


@sync_to_async
def returning_user_and_partners(count: int) -> tuple[Any, list[Any]]:
    User = get_user_model()
    User.objects.bulk_create([User(username=f"partner-{i}") for i in range(count)])
    return User.objects.create(username="returning"), list(User.objects.filter(username__startswith="partner-"))


async def seeded(conversations: int, messages: int) -> tuple[str, str]:
    """(user id, a cursor before every message) after each partner wrote ``messages`` to the user."""
    user, partners = await returning_user_and_partners(conversations)
    since = f"{int(time.time() * 1000) - 1}-0"
    for n in range(messages):
        for partner in partners:
            await asend_message(partner, user.pk, f"message {n}")
    return str(user.pk), since


async def counted_replay(redis_server, user_id: str, since: str):  # noqa: ANN001, ANN201 - a test helper
    """One ``areplay`` page with its round trips (client side) and the commands the server ran."""
    await areplay(user_id, since)  # connections open (their handshake is not the replay's)
    server = ServerCounts(redis_server.url)
    server.start()
    with RoundTrips() as trips:
        replay = await areplay(user_id, since)
    commands, _ = server.stop()
    server.close()
    return replay, trips, commands


@pytest.mark.parametrize("conversations", [1, 40])
async def test_replay_costs_the_index_read_and_one_pipeline_however_many_conversations(
        transactional_db, redis_server, conversations):
    user_id, since = await seeded(conversations, 2)
    replay, trips, commands = await counted_replay(redis_server, user_id, since)
    assert len(replay.messages) == 2 * conversations
    assert not replay.more
    assert trips.total == 2, trips.by_node  # ZRANGEBYSCORE on the partner index, then the pipeline
    assert commands.get("xrange") == conversations
    assert commands.get("zrangebyscore") == 1


async def full_sync(user_id: str, cursor: str) -> list[list[ChatMessage]]:
    """Every page from ``cursor`` until ``more`` is false (at most 200 pages)."""
    pages: list[list[ChatMessage]] = []
    while len(pages) < 200:
        page = await areplay(user_id, cursor)
        pages.append(page.messages)
        if not page.more:
            return pages
        cursor = page.messages[-1].cursor
    pytest.fail("the sync did not end within 200 pages")


def assert_one_pass_in_order(pages: list[list[ChatMessage]], expected: int) -> None:
    """Every message once, in (id, conversation) order across the pages."""
    keys = [m.sort_key() for page in pages for m in page]
    assert len(keys) == expected
    assert keys == sorted(keys) and len(set(keys)) == expected


@override_settings(WINKR_REALTIME={"REPLAY_PAGE_SIZE": 10})
async def test_a_full_sync_of_many_conversations_takes_about_messages_over_page_size_pages(transactional_db):
    """30 conversations × 2 messages, pages of 10: one message per conversation per page would take 30."""
    user_id, cursor = await seeded(30, 2)
    pages = await full_sync(user_id, cursor)
    assert len(pages) <= math.ceil(60 / 10) + 1, [len(p) for p in pages]
    assert all(len(page) == 10 for page in pages[:-1]), [len(p) for p in pages]
    assert_one_pass_in_order(pages, 60)


async def skewed(dense: int, messages: int, sparse: int) -> tuple[str, str]:
    """``dense`` conversations of ``messages`` each, sent round robin (both ways, under the rate limit), then
    ``sparse`` conversations of one message: the first entries of every conversation do not fill a page."""
    user, partners = await returning_user_and_partners(dense + sparse)
    since = f"{int(time.time() * 1000) - 1}-0"
    for n in range(messages):
        for partner in partners[:dense]:
            sender, recipient = (partner, user.pk) if n % 2 else (user, partner.pk)
            await asend_message(sender, recipient, f"dense {n}")
    for partner in partners[dense:]:
        await asend_message(partner, user.pk, "sparse")
    return str(user.pk), since


@override_settings(WINKR_REALTIME={"REPLAY_PAGE_SIZE": 10, "CHAT_RATE_LIMIT": {"requests": 10000, "window": 10}})
async def test_a_page_the_first_reads_do_not_fill_is_exact_in_one_more_pipeline(transactional_db, redis_server):
    user_id, since = await skewed(4, 12, 8)
    replay, trips, commands = await counted_replay(redis_server, user_id, since)
    # Two entries per conversation read first (24), then only the 4 dense ones read on, up to their room.
    assert trips.total == 3, trips.by_node
    assert commands.get("xrange") == 12 + 4
    assert replay.more
    pages = await full_sync(user_id, since)
    assert all(len(page) == 10 for page in pages[:-1]), [len(p) for p in pages]
    assert_one_pass_in_order(pages, 4 * 12 + 8)
    # Exact: the first 10 of the whole (id, conversation) order, all from the dense conversations (sent first).
    # Not by text: sends in one millisecond in different conversations order by conversation, not by send.
    everything = [m for page in pages for m in page]
    assert [m.sort_key() for m in replay.messages] == [m.sort_key() for m in everything[:10]]
    assert all(m.text.startswith("dense ") for m in replay.messages)


@override_settings(WINKR_REALTIME={"REPLAY_PAGE_SIZE": 10, "CHAT_RATE_LIMIT": {"requests": 10000, "window": 10}})
async def test_a_refill_over_its_budget_stops_the_page_before_what_it_did_not_read(transactional_db, monkeypatch):
    """With no refill budget every refill reads one entry: pages come out short but still in order, all once."""
    monkeypatch.setattr(chat, "REFILL_FACTOR", 0)
    user_id, since = await skewed(4, 12, 8)
    pages = await full_sync(user_id, since)
    assert len(pages[0]) < 10
    assert_one_pass_in_order(pages, 4 * 12 + 8)
