"""Chat: the one code path behind the WebSocket consumer, the REST endpoints and PubSubService.

A message is validated (recipient, send policy, text, rate limit), appended to the conversation's
capped Redis Stream (one key per pair of users), then fanned out through the channel layer to every
chat socket of the recipient and of the sender (minus the socket that sent it). The Stream is the
source of truth: the channel layer is at-most-once, and a client that missed anything replays from
the Stream with the last id it saw.
"""

from __future__ import annotations

import bisect
import functools
import operator
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from redis.exceptions import RedisError

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.twins import Call, Eval, Op, Pipe, Step, Together, Twin, arun, run

from .conf import realtime_settings
from .delivery import adeliver, deliver, script_publish
from .errors import InvalidInput, RateLimited, Unavailable
from .keys import chat_group, client_id_key, conversation_key, conversation_tag, partners_key
from .limits import acheck_chat_rate, chat_rate_config, check_chat_rate
from .metrics import CHAT_DUPLICATES, CHAT_MESSAGES
from .recipients import RecentPairs, checked_recipient, clean_user_id, load_recipient
from .scripts import LUA_SCRIPTS
from .send_script import fused_send, parse_send_reply, single_server
from .streams import LAST_ID, client_position, cursor_lost, decode_entries, format_stream_id, id_time, parse_stream_id
from .validation import require_utf8

__all__ = ["ChatMessage", "Replay", "asend_message", "areplay", "clean_user_id", "history", "send_message"]

# Conversations are looked up for a replay by their last-message time, stamped with this server's
# clock while the ids come from Redis' clock: look this far back to absorb any skew between them.
CLOCK_SKEW_MARGIN_MS = 3600 * 1000
# Conversations remembered per user for replay.
MAX_PARTNERS = 1000
# A conversation's partner index entries are rewritten at most this often per process (seconds): replay
# reads the index CLOCK_SKEW_MARGIN_MS before the cursor, so a score this stale still finds the conversation.
PARTNER_INDEX_REFRESH = 60
indexed_partners = RecentPairs()
MAX_CLIENT_ID_LENGTH = 100
# The database lookup of a recipient not remembered lately, for the async twin (a thread, closing stale connections).
aload_recipient = database_sync_to_async(load_recipient)
MAX_CURSOR_LENGTH = 300


@dataclass(frozen=True)
class ChatMessage:
    id: str
    sender: str
    recipient: str
    text: str
    # True when this is the original of a resent client_id (nothing new was stored or delivered).
    duplicate: bool = field(default=False, compare=False)

    # Cached: the ack and the delivered frame both carry them.
    @functools.cached_property
    def sent_at(self) -> str:
        return id_time(self.id)

    @functools.cached_property
    def cursor(self) -> str:
        """The replay position of this message among all of a user's conversations: ``<id>@<tag>``.

        Stream ids are per conversation, so two conversations can hold the same id; the conversation
        tag breaks the tie, which makes ``since=<cursor>`` unambiguous where a bare id is not.
        """
        return f"{self.id}@{conversation_tag(self.sender, self.recipient)}"

    def as_frame(self) -> dict[str, Any]:
        return {"type": "chat.message", "id": self.id, "from": self.sender, "to": self.recipient,
                "text": self.text, "sent_at": self.sent_at, "cursor": self.cursor}

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> ChatMessage:
        return cls(id=entry_id, sender=fields.get("from", ""), recipient=fields.get("to", ""),
                   text=fields.get("text", ""))

    def as_event(self, exclude_channel: str | None) -> dict[str, Any]:
        """The channel-layer event of this message: what was stored, which each socket renders with
        :meth:`from_event` (``send_message.lua`` publishes the same event from inside Redis)."""
        return {"type": "chat.deliver", "message": {"id": self.id, "from": self.sender, "to": self.recipient,
                                                    "text": self.text}, "exclude": exclude_channel or ""}

    @classmethod
    def from_event(cls, message: dict[str, Any]) -> ChatMessage:
        """The message of a ``chat.deliver`` event's ``message`` (KeyError if it is malformed)."""
        return cls(id=message["id"], sender=message["from"], recipient=message["to"], text=message["text"])

    def sort_key(self) -> tuple[tuple[int, int], str]:
        return parse_stream_id(self.id), conversation_tag(self.sender, self.recipient)


@dataclass
class Replay:
    messages: list[ChatMessage]
    lost: list[str]  # partners whose stream no longer reaches back to ``since``: resync from history
    more: bool = False  # the page is not the end: sync again from the last message's cursor


# --- validation (pure, shared by both twins) ---------------------------------------------------------

def clean_text(text: object) -> str:
    if not isinstance(text, str):
        msg = "'text' must be a string."
        raise InvalidInput(msg, code="invalid_text")
    if not text.strip():
        msg = "'text' must not be empty."
        raise InvalidInput(msg, code="invalid_text")
    if "\x00" in text:
        msg = "'text' must not contain NUL characters."
        raise InvalidInput(msg, code="invalid_text")
    limit = int(realtime_settings.MAX_TEXT_LENGTH)
    if len(text) > limit:
        msg = f"'text' is longer than {limit} characters."
        raise InvalidInput(msg, code="text_too_long")
    return require_utf8(text, "text", "invalid_text")


def clean_client_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_CLIENT_ID_LENGTH or "\x00" in value:
        msg = f"'client_id' must be a string of 1 to {MAX_CLIENT_ID_LENGTH} characters."
        raise InvalidInput(msg,
                           code="invalid_client_id")
    return require_utf8(value, "client_id", "invalid_client_id")


def clean_cursor(value: object) -> tuple[tuple[int, int], str | None]:
    """``"<id>"`` or ``"<id>@<conversation tag>"`` (a message's ``cursor``) -> (id, tag or None)."""
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > MAX_CURSOR_LENGTH:
        msg = "'since' must be a message id or cursor."
        raise InvalidInput(msg, code="invalid_since")
    position, at, tag = str(value).partition("@")
    if at and not tag:
        msg = "'since' cursor has no conversation after '@'."
        raise InvalidInput(msg, code="invalid_since")
    return client_position(position, "since"), (tag if at else None)


# --- storing and sending: one operation, driven by caching_app.foundation.twins ------------------------

def _append(sender_id: str, recipient_id: str, text: str, client_id: str | None) -> Eval:
    """The append script: conversation Stream and client_id key share the pair's hash tag (one slot)."""
    keys = [conversation_key(sender_id, recipient_id)]
    if client_id is not None:
        keys.append(client_id_key(sender_id, recipient_id, client_id))
    args = [int(realtime_settings.CHAT_STREAM_MAXLEN), int(realtime_settings.CHAT_STREAM_TTL),
            int(realtime_settings.CLIENT_ID_TTL), "from", sender_id, "to", recipient_id, "text", text]
    return Eval(LUA_SCRIPTS, "append_message", keys, args)


def _needs_index(sender_id: str, recipient_id: str) -> bool:
    """Whether this process has not written the pair's partner index lately (one pipeline saved per message)."""
    if indexed_partners.contains(None, sender_id, recipient_id):
        return False
    indexed_partners.remember(None, sender_id, recipient_id, PARTNER_INDEX_REFRESH)
    return True


def _index_partners(sender_id: str, recipient_id: str) -> Pipe:
    """Both users' partner sets, which ``since=`` replay reads to find their conversations.

    Each set has its user's hash tag (neither the pair's nor the other user's slot), so they cannot join
    the append script: they are one pipeline, sent concurrently with it when due.
    """
    now_ms = int(time.time() * 1000)
    ttl = int(realtime_settings.CHAT_STREAM_TTL)
    calls = []
    for owner, partner in ((sender_id, recipient_id), (recipient_id, sender_id)):
        key = partners_key(owner)
        calls += [Call("zadd", (key, {partner: now_ms})), Call("zremrangebyrank", (key, 0, -MAX_PARTNERS - 1)),
                  Call("expire", (key, ttl))]
    return Pipe(calls)


def _new_conversation(reply: list[Any]) -> bool:
    """The append created the Stream (a new conversation, or one Redis lost): index it even if this process
    believes it did lately."""
    return not int(reply[1]) and len(reply) > 2 and bool(int(reply[2]))


def _stored(reply: list[Any], sender_id: str, recipient_id: str, text: str) -> ChatMessage:
    entry_id, duplicate = reply[0].decode(), bool(int(reply[1]))
    if not duplicate:
        return ChatMessage(entry_id, sender_id, recipient_id, text)
    CHAT_DUPLICATES.inc()
    original = dict(zip(reply[2::2], reply[3::2], strict=False))
    return ChatMessage(entry_id, sender_id, recipient_id, original.get(b"text", text.encode()).decode(),
                       duplicate=True)


def _delivery(message: ChatMessage, exclude_channel: str | None) -> Twin:
    """One event to the recipient's and the sender's chat sockets (the sender's other devices), published
    once (realtime_app.delivery); the sending socket skips it by ``exclude``."""
    return Twin(deliver, adeliver, ((chat_group(message.recipient), chat_group(message.sender)),
                                    message.as_event(exclude_channel), "chat message"))


def _store_in_one_script(sender_pk: str, recipient_pk: str, text: str, client_id: str | None,
                         exclude_channel: str | None) -> Generator[Step, Any, tuple[list[Any], bool]]:
    """One server (standalone, Sentinel): the rate limit, the append, the partner index and, where the channel
    layer is on that server too, the publish, in one round trip (realtime_app.send_script); the limit still
    decides before anything is stored. Returns the append's reply and whether the script publishes: then a
    stored message was published with it, in the same script, and a resend finds it published already."""
    config = chat_rate_config()
    due = not indexed_partners.contains(None, sender_pk, recipient_pk)
    publish = script_publish(realtime_settings.REDIS_ALIAS, (chat_group(recipient_pk), chat_group(sender_pk)),
                             exclude_channel)
    step, token = fused_send(config, sender_pk, recipient_pk, _append(sender_pk, recipient_pk, text, client_id),
                             index=due, max_partners=MAX_PARTNERS, publish=publish, exclude_channel=exclude_channel)
    sent = parse_send_reply(config, sender_pk, (yield step), token)
    if sent.retry_after is not None:
        raise _rate_limited(sent.retry_after)
    if sent.indexed:
        indexed_partners.remember(None, sender_pk, recipient_pk, PARTNER_INDEX_REFRESH)
    return sent.stored, publish is not None


def _store_by_slot(sender_pk: str, recipient_pk: str, text: str, client_id: str | None,
                   exclude_channel: str | None) -> Generator[Step, Any, tuple[list[Any], bool]]:
    """A Cluster: the rate limit (the sender's slot, on ratelimit_app's alias), then the append (the pair's
    slot) with the partner index (each user's slot) alongside when due. Keys of different slots cannot share
    a script, and the limit must decide before anything is stored (a refused sender must not trim the capped
    Stream), so the limit cannot share the append's round trip. The caller publishes (nothing published)."""
    retry_after = yield Twin(check_chat_rate, acheck_chat_rate, (sender_pk,))
    if retry_after is not None:
        raise _rate_limited(retry_after)
    append = _append(sender_pk, recipient_pk, text, client_id)
    if _needs_index(sender_pk, recipient_pk):
        _, reply = yield Together((_index_partners(sender_pk, recipient_pk), append))
    else:
        reply = yield append
        if _new_conversation(reply):
            yield _index_partners(sender_pk, recipient_pk)
    return reply, False


def _rate_limited(retry_after: float) -> RateLimited:
    msg = "Too many messages; slow down."
    return RateLimited(msg, retry_after=retry_after)


def _send_op(sender: Any, recipient_id: object, text: object, client_id: object, exclude_channel: str | None,
             via: str) -> Op:
    """Validate, rate limit, store (once per client_id) and deliver one message: the logic of both twins.

    Round trips: on one server, one script that also publishes when the channel layer is there too; on a
    Cluster, one step per slot, then one publish.
    """
    text, client_id = clean_text(text), clean_client_id(client_id)
    recipient_pk, allowed = checked_recipient(sender, recipient_id)
    if not allowed:
        recipient_pk = yield Twin(load_recipient, aload_recipient, (sender, recipient_pk))
    sender_pk = str(sender.pk)
    store = _store_in_one_script if single_server() else _store_by_slot
    try:
        reply, store_publishes = yield from store(sender_pk, recipient_pk, text, client_id, exclude_channel)
    except RedisError as exc:
        indexed_partners.forget_user(sender_pk)
        msg = "Chat storage is unavailable; the message was not sent."
        raise Unavailable(msg) from exc
    message = _stored(reply, sender_pk, recipient_pk, text)
    if not store_publishes:
        # Published after the store, so a resend (or redis-py's retry of an append whose reply was lost)
        # may find a message that was stored but never delivered: it is delivered again. Open sockets skip
        # the messages they already sent (realtime_app.resume), so each still shows it once.
        yield _delivery(message, exclude_channel)
    if not message.duplicate:
        _messages_via(via).inc()
    return message


@functools.cache
def _messages_via(via: str) -> Any:
    # The counter's child per path, looked up once (labels() takes a lock and hashes per call).
    return CHAT_MESSAGES.labels(via)


def _chat_redis() -> Any:
    return get_redis(realtime_settings.REDIS_ALIAS)


def _chat_async_redis() -> Any:
    return get_async_redis(realtime_settings.REDIS_ALIAS)


def send_message(sender: Any, recipient_id: object, text: object, *, client_id: object = None,
                 exclude_channel: str | None = None) -> ChatMessage:
    """Validate, store and deliver one message from sync code (REST).

    A ``client_id`` already used by ``sender`` in this conversation within ``CLIENT_ID_TTL`` returns the
    original message (``duplicate=True``) and stores nothing. Where the publish is not part of the store (a
    Cluster, or the channel layer on another server) it delivers the original again, because the first
    attempt may have stored it and failed before publishing; open sockets that have it skip it.
    """
    return run(_send_op(sender, recipient_id, text, client_id, exclude_channel, "rest"), _chat_redis)


async def asend_message(sender: Any, recipient_id: object, text: object, *, client_id: object = None,
                        exclude_channel: str | None = None) -> ChatMessage:
    """Async twin of :func:`send_message` (WebSocket consumer, PubSubService).

    The hot path of a conversation touches no database and no thread: the recipient check is
    remembered (``realtime_app.recipients``), the rate limit runs on the async client, the partner
    index and the append go out concurrently, and both deliveries are published once.
    """
    return await arun(_send_op(sender, recipient_id, text, client_id, exclude_channel, "socket"), _chat_async_redis)


# --- reading ---------------------------------------------------------------------------------------------

def history(user_id: object, other_id: object, *, before: object | None = None, limit: int = 50
            ) -> tuple[list[ChatMessage], str | None]:
    """One page of a conversation, oldest first, ending before ``before``; and the next ``before``."""
    other = clean_user_id(other_id, "user_id")
    end = "+" if before in (None, "") else "(" + format_stream_id(client_position(before, "before"))
    try:
        entries = get_redis(realtime_settings.REDIS_ALIAS).xrevrange(
            conversation_key(user_id, other), max=end, min="-", count=limit)
    except RedisError as exc:
        msg = "Chat storage is unavailable."
        raise Unavailable(msg) from exc
    messages = [ChatMessage.from_entry(i, f) for i, f in reversed(decode_entries(entries))]
    next_before = messages[0].id if len(messages) == limit else None
    return messages, next_before


def _after(cursor: tuple[int, int], cursor_tag: str | None, tag: str) -> str:
    """XRANGE start for one conversation: the cursor's own id is included only in conversations ordered
    after the cursor's (same id, later tag); a bare id (no tag) excludes it everywhere."""
    inclusive = cursor_tag is not None and tag > cursor_tag
    return ("" if inclusive else "(") + format_stream_id(cursor)


async def areplay(user_id: object, since: object, *, with_user: object | None = None,
                  limit: int | None = None) -> Replay:
    """One page (at most ``limit``, default ``REPLAY_PAGE_SIZE``) of ``user_id``'s messages after ``since``,
    in (id, conversation) order, with ``more`` set when the client should sync again from the page's last
    cursor.

    ``since`` is a message's ``cursor`` (``<id>@<conversation>``, exact) or a bare stream id (which
    skips other conversations' messages carrying that very id). Conversations whose capped stream no
    longer reaches back to ``since`` are reported in ``lost`` (and their retained messages are still
    returned) so the client knows to refetch history.

    Round trips: the partner index, one pipeline over every conversation (a few entries each, see
    :func:`_share`), and only when a conversation may hold more of the page than that, a second pipeline
    over just those conversations (:func:`_refills`). A pipeline is one round trip per Redis node however
    many partners (redis-py's cluster pipeline groups the commands by node and sends to the nodes
    concurrently). Work per page, whatever the data: fewer than ``limit + 2 * conversations`` entries in
    the first pipeline (conversations <= MAX_PARTNERS, the index is trimmed to that), at most
    ``(REFILL_FACTOR + 1) * limit`` in the second. Every page is full unless the sync has reached the end
    (only above a page size of 100 can a refill go over its budget and stop a page short: still in order).
    """
    cursor, cursor_tag = clean_cursor(since)
    limit = int(realtime_settings.REPLAY_PAGE_SIZE) if limit is None else limit
    client = get_async_redis(realtime_settings.REDIS_ALIAS)
    user = str(user_id)
    try:
        partners = await _replay_partners(client, user, cursor, with_user)
        if not partners:
            return Replay([], [])
        reads, lost = await _first_reads(client, user, partners, (cursor, cursor_tag), limit)
        await _refill(client, user, reads, limit)
    except RedisError as exc:
        msg = "Chat storage is unavailable."
        raise Unavailable(msg) from exc
    page, more = merge_page(reads, limit)
    return Replay(page, lost, more)


# The second pipeline of a page reads at most this many entries per message of the page. limit**2 / 4 bounds
# what an exact page can need (:func:`_refills`), so pages of up to 100 (the default) are always exact.
REFILL_FACTOR = 25
PageKey = tuple[tuple[int, int], str]  # a message's place in the page order: (stream id, conversation tag)


@dataclass
class ConversationRead:
    """What one page read of one conversation: its messages after the cursor, oldest first."""

    partner: str
    tag: str
    more: bool = False  # the last read stopped at its count (or at the page's bound): entries may follow
    open: bool = False  # entries may follow that still belong in this page (the page must stop before them)
    messages: list[ChatMessage] = field(default_factory=list)
    keys: list[PageKey] = field(default_factory=list)  # each message's (id, conversation), parsed once

    def add(self, entries: Any) -> int:
        """Append an XRANGE reply's entries; how many there were."""
        decoded = decode_entries(entries)
        self.messages += [ChatMessage.from_entry(i, f) for i, f in decoded]
        self.keys += [(parse_stream_id(i), self.tag) for i, _ in decoded]
        return len(decoded)


async def _replay_partners(client: Any, user: str, cursor: tuple[int, int], with_user: object | None) -> list[str]:
    if with_user is not None:
        return [str(clean_user_id(with_user, "with"))]
    raw = await client.zrangebyscore(partners_key(user), cursor[0] - CLOCK_SKEW_MARGIN_MS, "+inf")
    return [p.decode() if isinstance(p, bytes) else str(p) for p in raw]


def _raise_failed(reply: object) -> None:
    if isinstance(reply, Exception):
        msg = "Chat storage is unavailable."
        raise Unavailable(msg) from reply


async def _first_reads(client: Any, user: str, partners: list[str], since: tuple[tuple[int, int], str | None],
                       limit: int) -> tuple[list[ConversationRead], list[str]]:
    """Every conversation's first entries after ``since`` and its XINFO (is the cursor lost?): one pipeline.

    XINFO stays: only its ``entries-added`` tells a trimmed stream from one that began after the cursor
    (Redis 7), and a shorter reply would need a round trip of its own first (is the stream at its cap?),
    or would take a stream below CHAT_STREAM_MAXLEN for untrimmed after the cap was raised.
    """
    share = _share(limit, len(partners))
    pipe = client.pipeline(transaction=False)
    tags = [conversation_tag(user, partner) for partner in partners]
    for partner, tag in zip(partners, tags, strict=True):
        key = conversation_key(user, partner)
        pipe.xrange(key, min=_after(since[0], since[1], tag), max="+", count=share)
        pipe.xinfo_stream(key)
    results = await pipe.execute(raise_on_error=False)
    maxlen = int(realtime_settings.CHAT_STREAM_MAXLEN)
    reads, lost = [], []
    for partner, tag, entries, info in zip(partners, tags, results[::2], results[1::2], strict=True):
        _raise_failed(entries)
        if not isinstance(info, Exception) and cursor_lost(info, since[0], maxlen):
            lost.append(partner)
        read = ConversationRead(partner, tag)
        read.more = read.add(entries) == share
        reads.append(read)
    return reads, lost


def _share(limit: int, conversations: int) -> int:
    """Entries read per conversation by a page's first pipeline: the page split evenly, plus one, so one
    sync reads fewer than ``limit + 2 * conversations`` entries there however long the conversations are.

    The one over an even split is what saves the second pipeline in the common case: a conversation whose
    reads all fall inside the page is known to hold no more of it only if it was read past the page.
    """
    return -(-limit // conversations) + 1


async def _refill(client: Any, user: str, reads: list[ConversationRead], limit: int) -> None:
    """The second pipeline, when some conversation may hold more of the page than the first read of it."""
    refills = _refills(reads, limit)
    if not refills:
        return
    pipe = client.pipeline(transaction=False)
    for read, start, end, count, _ in refills:
        pipe.xrange(conversation_key(user, read.partner), min=start, max=end, count=count)
    results = await pipe.execute(raise_on_error=False)
    for (read, _, end, count, room), entries in zip(refills, results, strict=True):
        _raise_failed(entries)
        full = read.add(entries) == count
        read.more = full or end != "+"
        read.open = full and count < room


def _refills(reads: list[ConversationRead], limit: int) -> list[tuple[ConversationRead, str, str, int, int]]:
    """(conversation, XRANGE start, end, count, room) for each conversation that may hold more of the page.

    The page is the ``limit`` first messages of the merged order, so none comes after the ``limit``-th
    message read so far (``bound``), and a conversation whose last read message has ``a`` read messages at
    or before it can add at most ``limit - a`` (its room). Read up to the bound and the room, the page is
    exact. At most ``limit / share`` conversations can need it (their reads lie before the bound), and
    the i-th earliest has room for at most ``limit - i * share`` (share >= 2): at most ``limit**2 / 4``
    entries in all. Above ``REFILL_FACTOR * limit`` the rooms are cut in proportion (at least one entry
    each, so at most ``limit / 2`` over) and the page stops before what was not read (:func:`merge_page`).

    Why one exact refill rather than reading on in rounds (say doubling each open conversation's count):
    rounds bound the entries by about ``2 * limit`` each but can take ``log2(limit)`` round trips on skewed
    conversations; this takes one, and its worst case (quadratic in the page, not in the data) is capped.
    """
    merged = sorted(key for read in reads for key in read.keys)
    bound = merged[limit - 1] if len(merged) >= limit else None
    wanted = []
    for read in reads:
        if not read.more or not read.keys:
            continue
        last = read.keys[-1]
        if (bound is not None and last >= bound) or last[0] == LAST_ID:
            continue
        wanted.append((read, last, limit - bisect.bisect_right(merged, last)))
    total, budget = sum(room for *_, room in wanted), REFILL_FACTOR * limit
    refills = []
    for read, last, room in wanted:
        count = room if total <= budget else max(1, room * budget // total)
        refills.append((read, "(" + format_stream_id(last[0]), _upto(bound, read.tag), count, room))
    return refills


def _upto(bound: PageKey | None, tag: str) -> str:
    """XRANGE end for one conversation: its entries at or before ``bound`` in (id, conversation) order."""
    if bound is None:
        return "+"
    (ms, seq), bound_tag = bound
    if tag <= bound_tag:
        return format_stream_id((ms, seq))
    # Only ids before the bound's: the conversation's last read lies before it, so there is one.
    return format_stream_id((ms, seq - 1) if seq else (ms - 1, LAST_ID[1]))


def merge_page(reads: list[ConversationRead], limit: int) -> tuple[list[ChatMessage], bool]:
    """Merge the conversations' reads into a page (at most ``limit``) and whether the client should sync on.

    A conversation left ``open`` (its refill was cut short) may hold unread messages before others read, so
    the page stops at the earliest last-read message of such a conversation (it still holds that
    conversation's whole read, so every page makes progress).
    """
    frontier = min((read.keys[-1] for read in reads if read.open and read.keys), default=None)
    merged = sorted((pair for read in reads for pair in zip(read.keys, read.messages, strict=True)),
                    key=operator.itemgetter(0))
    if frontier is not None:
        merged = [pair for pair in merged if pair[0] <= frontier]
    return [m for _, m in merged[:limit]], len(merged) > limit or any(read.more for read in reads)
