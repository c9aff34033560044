"""Chat: the one code path behind the WebSocket consumer, the REST endpoints and PubSubService.

A message is validated (recipient, send policy, text, rate limit), appended to the conversation's
capped Redis Stream (one key per pair of users), then fanned out through the channel layer to every
chat socket of the recipient and of the sender (minus the socket that sent it). The Stream is the
source of truth: the channel layer is at-most-once, and a client that missed anything replays from
the Stream with the last id it saw.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from redis.exceptions import RedisError

from caching_app.foundation.connections import get_async_redis, get_redis
from caching_app.foundation.twins import Call, Eval, Op, Pipe, Step, Together, Twin, arun, run

from .conf import realtime_settings
from .delivery import adeliver, deliver
from .errors import InvalidInput, RateLimited, Unavailable
from .keys import chat_group, client_id_key, conversation_key, conversation_tag, partners_key
from .limits import acheck_chat_rate, chat_rate_config, check_chat_rate
from .metrics import CHAT_DUPLICATES, CHAT_MESSAGES
from .recipients import RecentPairs, checked_recipient, clean_user_id, load_recipient
from .scripts import LUA_SCRIPTS
from .send_script import fused_send, parse_send_reply, single_server
from .streams import client_position, cursor_lost, decode_entries, format_stream_id, id_time, parse_stream_id
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
    event = {"type": "chat.deliver", "message": message.as_frame(), "exclude": exclude_channel or ""}
    return Twin(deliver, adeliver, ((chat_group(message.recipient), chat_group(message.sender)), event,
                                    "chat message"))


def _store_in_one_script(sender_pk: str, recipient_pk: str, text: str, client_id: str | None
                         ) -> Generator[Step, Any, list[Any]]:
    """One server (standalone, Sentinel): the rate limit, the append and the partner index in one round trip
    (realtime_app.send_script); the limit still decides before anything is stored."""
    config = chat_rate_config()
    due = not indexed_partners.contains(None, sender_pk, recipient_pk)
    step, token = fused_send(config, sender_pk, recipient_pk, _append(sender_pk, recipient_pk, text, client_id),
                             index=due, max_partners=MAX_PARTNERS)
    sent = parse_send_reply(config, sender_pk, (yield step), token)
    if sent.retry_after is not None:
        raise _rate_limited(sent.retry_after)
    if sent.indexed:
        indexed_partners.remember(None, sender_pk, recipient_pk, PARTNER_INDEX_REFRESH)
    return sent.stored


def _store_by_slot(sender_pk: str, recipient_pk: str, text: str, client_id: str | None
                   ) -> Generator[Step, Any, list[Any]]:
    """A Cluster: the rate limit (the sender's slot, on ratelimit_app's alias), then the append (the pair's
    slot) with the partner index (each user's slot) alongside when due. Keys of different slots cannot share
    a script, and the limit must decide before anything is stored (a refused sender must not trim the capped
    Stream), so the limit cannot share the append's round trip."""
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
    return reply


def _rate_limited(retry_after: float) -> RateLimited:
    msg = "Too many messages; slow down."
    return RateLimited(msg, retry_after=retry_after)


def _send_op(sender: Any, recipient_id: object, text: object, client_id: object, exclude_channel: str | None,
             via: str) -> Op:
    """Validate, rate limit, store (once per client_id) and deliver one message: the logic of both twins.

    Round trips: the store (one script on one server, one step per slot on a Cluster), then one publish.
    """
    text, client_id = clean_text(text), clean_client_id(client_id)
    recipient_pk, allowed = checked_recipient(sender, recipient_id)
    if not allowed:
        recipient_pk = yield Twin(load_recipient, aload_recipient, (sender, recipient_pk))
    sender_pk = str(sender.pk)
    store = _store_in_one_script if single_server() else _store_by_slot
    try:
        reply = yield from store(sender_pk, recipient_pk, text, client_id)
    except RedisError as exc:
        indexed_partners.forget_user(sender_pk)
        msg = "Chat storage is unavailable; the message was not sent."
        raise Unavailable(msg) from exc
    message = _stored(reply, sender_pk, recipient_pk, text)
    if not message.duplicate:
        yield _delivery(message, exclude_channel)
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
    original message (``duplicate=True``) and stores or delivers nothing.
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

    All conversations are read in one pipeline: one round trip per Redis node however many partners
    (redis-py's cluster pipeline groups the commands by node and sends to the nodes concurrently).
    """
    cursor, cursor_tag = clean_cursor(since)
    limit = int(realtime_settings.REPLAY_PAGE_SIZE) if limit is None else limit
    client = get_async_redis(realtime_settings.REDIS_ALIAS)
    user = str(user_id)
    try:
        if with_user is not None:
            partners = [str(clean_user_id(with_user, "with"))]
        else:
            raw = await client.zrangebyscore(partners_key(user), cursor[0] - CLOCK_SKEW_MARGIN_MS, "+inf")
            partners = [p.decode() if isinstance(p, bytes) else str(p) for p in raw]
        if not partners:
            return Replay([], [])
        share = _share(limit, len(partners))
        pipe = client.pipeline(transaction=False)
        for partner in partners:
            key = conversation_key(user, partner)
            pipe.xrange(key, min=_after(cursor, cursor_tag, conversation_tag(user, partner)), max="+",
                        count=share + 1)
            pipe.xinfo_stream(key)
        results = await pipe.execute(raise_on_error=False)
    except RedisError as exc:
        msg = "Chat storage is unavailable."
        raise Unavailable(msg) from exc
    maxlen = int(realtime_settings.CHAT_STREAM_MAXLEN)
    batches: list[tuple[list[ChatMessage], bool]] = []
    lost: list[str] = []
    for partner, entries, info in zip(partners, results[::2], results[1::2], strict=True):
        if isinstance(entries, Exception):
            msg = "Chat storage is unavailable."
            raise Unavailable(msg) from entries
        if not isinstance(info, Exception) and cursor_lost(info, cursor, maxlen):
            lost.append(partner)
        messages = [ChatMessage.from_entry(i, f) for i, f in decode_entries(entries)]
        batches.append((messages[:share], len(messages) > share))
    page, more = merge_page(batches, limit)
    return Replay(page, lost, more)


def _share(limit: int, conversations: int) -> int:
    """Entries read per conversation for one page: the page split evenly, so one sync reads at most about
    ``limit + 2 * conversations`` entries however long the conversations are."""
    return max(1, -(-limit // conversations))


def merge_page(batches: list[tuple[list[ChatMessage], bool]], limit: int) -> tuple[list[ChatMessage], bool]:
    """Merge per-conversation batches (oldest first; ``True`` when that conversation has more) into a page.

    Only messages up to the earliest "last read" of a conversation that has more are certain to be
    the next ones in the merged order, so the page stops there (it still holds that conversation's whole
    batch, so every page makes progress) or at ``limit``.
    """
    frontier = min((messages[-1].sort_key() for messages, has_more in batches if has_more and messages),
                   default=None)
    merged = sorted((m for messages, _ in batches for m in messages), key=ChatMessage.sort_key)
    if frontier is not None:
        merged = [m for m in merged if m.sort_key() <= frontier]
    return merged[:limit], frontier is not None or len(merged) > limit
