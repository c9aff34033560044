"""Chat: the one code path behind the WebSocket consumer, the REST endpoints and PubSubService.

A message is validated (recipient, send policy, text, rate limit), appended to the conversation's
capped Redis Stream (one key per pair of users), then fanned out through the channel layer to every
chat socket of the recipient and of the sender (minus the socket that sent it). The Stream is the
source of truth: the channel layer is at-most-once, and a client that missed anything replays from
the Stream with the last id it saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from redis.exceptions import RedisError

from caching_app.connections import get_async_redis, get_redis

from .conf import realtime_settings
from .delivery import adeliver, deliver
from .errors import InvalidInput, NotAllowed, RateLimited, RecipientNotFound, Unavailable
from .keys import chat_group, conversation_key, partners_key
from .limits import acheck_chat_rate, check_chat_rate
from .metrics import CHAT_MESSAGES
from .streams import InvalidStreamId, cursor_lost, decode_entries, format_stream_id, id_time, parse_stream_id

# Conversations are looked up for a replay by their last-message time, stamped with this server's
# clock while the ids come from Redis' clock: look this far back to absorb any skew between them.
CLOCK_SKEW_MARGIN_MS = 3600 * 1000
# Conversations remembered per user for replay.
MAX_PARTNERS = 1000


@dataclass(frozen=True)
class ChatMessage:
    id: str
    sender: str
    recipient: str
    text: str

    @property
    def sent_at(self) -> str:
        return id_time(self.id)

    def as_frame(self) -> dict[str, Any]:
        return {"type": "chat.message", "id": self.id, "from": self.sender, "to": self.recipient,
                "text": self.text, "sent_at": self.sent_at}

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> ChatMessage:
        return cls(id=entry_id, sender=fields.get("from", ""), recipient=fields.get("to", ""),
                   text=fields.get("text", ""))

    def sort_key(self) -> tuple[tuple[int, int], str, str]:
        return parse_stream_id(self.id), self.sender, self.recipient


@dataclass
class Replay:
    messages: list[ChatMessage]
    lost: list[str]  # partners whose stream no longer reaches back to ``since``: resync from history


# --- validation (pure, shared by both twins) ---------------------------------------------------------

def clean_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidInput("'text' must be a string.", code="invalid_text")
    if not text.strip():
        raise InvalidInput("'text' must not be empty.", code="invalid_text")
    limit = int(realtime_settings.MAX_TEXT_LENGTH)
    if len(text) > limit:
        raise InvalidInput(f"'text' is longer than {limit} characters.", code="text_too_long")
    return text


def clean_user_id(value: object, field: str = "to") -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise InvalidInput(f"'{field}' must be a user id.", code="invalid_recipient")
    try:
        return get_user_model()._meta.pk.to_python(value)
    except (ValidationError, ValueError, TypeError, OverflowError):
        raise InvalidInput(f"'{field}' must be a user id.", code="invalid_recipient") from None


def clean_since(value: object) -> tuple[int, int]:
    try:
        return parse_stream_id(value)
    except InvalidStreamId as exc:
        raise InvalidInput(str(exc), code="invalid_since") from None


def _load_recipient(sender: Any, recipient_id: object) -> Any:
    """Sync (database): the recipient, after the existence and policy checks."""
    recipient_pk = clean_user_id(recipient_id)
    if str(recipient_pk) == str(sender.pk):
        raise InvalidInput("You cannot message yourself.", code="invalid_recipient")
    recipient = get_user_model()._default_manager.filter(pk=recipient_pk, is_active=True).first()
    if recipient is None:
        raise RecipientNotFound("No such user.")
    if not realtime_settings.SEND_POLICY(sender, recipient):
        raise NotAllowed("You may not message this user.")
    return recipient


def _append(pipe: Any, sender_id: str, recipient_id: str, text: str) -> None:
    key = conversation_key(sender_id, recipient_id)
    pipe.xadd(key, {"from": sender_id, "to": recipient_id, "text": text},
              maxlen=int(realtime_settings.CHAT_STREAM_MAXLEN), approximate=True)
    pipe.expire(key, int(realtime_settings.CHAT_STREAM_TTL))
    now_ms = int(time.time() * 1000)
    for owner, partner in ((sender_id, recipient_id), (recipient_id, sender_id)):
        pipe.zadd(partners_key(owner), {partner: now_ms})
        pipe.zremrangebyrank(partners_key(owner), 0, -MAX_PARTNERS - 1)
        pipe.expire(partners_key(owner), int(realtime_settings.CHAT_STREAM_TTL))


def _delivery(message: ChatMessage, exclude_channel: str | None) -> list[tuple[str, dict]]:
    event = {"type": "chat.deliver", "message": message.as_frame(), "exclude": exclude_channel or ""}
    return [(chat_group(message.recipient), event), (chat_group(message.sender), event)]


# --- sending: explicit sync and async twins --------------------------------------------------------------

def send_message(sender: Any, recipient_id: object, text: object, *, exclude_channel: str | None = None
                 ) -> ChatMessage:
    """Validate, store and deliver one message from sync code (REST)."""
    text = clean_text(text)
    recipient = _load_recipient(sender, recipient_id)
    try:
        retry_after = check_chat_rate(sender.pk)
        if retry_after is not None:
            raise RateLimited("Too many messages; slow down.", retry_after=retry_after)
        pipe = get_redis(realtime_settings.REDIS_ALIAS).pipeline(transaction=False)
        _append(pipe, str(sender.pk), str(recipient.pk), text)
        entry_id = pipe.execute()[0]
    except RedisError as exc:
        raise Unavailable("Chat storage is unavailable; the message was not sent.") from exc
    message = ChatMessage(entry_id.decode(), str(sender.pk), str(recipient.pk), text)
    deliver(_delivery(message, exclude_channel), "chat message")
    CHAT_MESSAGES.labels("rest").inc()
    return message


async def asend_message(sender: Any, recipient_id: object, text: object, *, exclude_channel: str | None = None
                        ) -> ChatMessage:
    """Async twin of :func:`send_message` (WebSocket consumer, PubSubService)."""
    text = clean_text(text)
    recipient = await database_sync_to_async(_load_recipient)(sender, recipient_id)
    try:
        retry_after = await acheck_chat_rate(sender.pk)
        if retry_after is not None:
            raise RateLimited("Too many messages; slow down.", retry_after=retry_after)
        pipe = get_async_redis(realtime_settings.REDIS_ALIAS).pipeline(transaction=False)
        _append(pipe, str(sender.pk), str(recipient.pk), text)
        entry_id = (await pipe.execute())[0]
    except RedisError as exc:
        raise Unavailable("Chat storage is unavailable; the message was not sent.") from exc
    message = ChatMessage(entry_id.decode(), str(sender.pk), str(recipient.pk), text)
    await adeliver(_delivery(message, exclude_channel), "chat message")
    CHAT_MESSAGES.labels("socket").inc()
    return message


# --- reading ---------------------------------------------------------------------------------------------

def history(user_id: object, other_id: object, *, before: object | None = None, limit: int = 50
            ) -> tuple[list[ChatMessage], str | None]:
    """One page of a conversation, oldest first, ending before ``before``; and the next ``before``."""
    other = clean_user_id(other_id, "user_id")
    end = "+" if before in (None, "") else "(" + format_stream_id(clean_since(before))
    try:
        entries = get_redis(realtime_settings.REDIS_ALIAS).xrevrange(
            conversation_key(user_id, other), max=end, min="-", count=limit)
    except RedisError as exc:
        raise Unavailable("Chat storage is unavailable.") from exc
    messages = [ChatMessage.from_entry(i, f) for i, f in reversed(decode_entries(entries))]
    next_before = messages[0].id if len(messages) == limit else None
    return messages, next_before


async def areplay(user_id: object, since: object, *, with_user: object | None = None) -> Replay:
    """Every message of ``user_id``'s conversations after ``since``, in id order.

    Conversations whose capped stream no longer reaches back to ``since`` are reported in ``lost``
    (and their retained messages are still returned) so the client knows to refetch history.
    """
    cursor = clean_since(since)
    client = get_async_redis(realtime_settings.REDIS_ALIAS)
    user = str(user_id)
    try:
        if with_user is not None:
            partners = [str(clean_user_id(with_user, "with"))]
        else:
            raw = await client.zrangebyscore(partners_key(user), cursor[0] - CLOCK_SKEW_MARGIN_MS, "+inf")
            partners = [p.decode() for p in raw]
        maxlen = int(realtime_settings.CHAT_STREAM_MAXLEN)
        messages: list[ChatMessage] = []
        lost: list[str] = []
        for partner in partners:
            key = conversation_key(user, partner)
            pipe = client.pipeline(transaction=False)
            pipe.xrange(key, min="(" + format_stream_id(cursor), max="+")
            pipe.xinfo_stream(key)
            results = await pipe.execute(raise_on_error=False)
            entries, info = results
            if isinstance(entries, Exception):
                raise entries
            if not isinstance(info, Exception) and cursor_lost(info, cursor, maxlen):
                lost.append(partner)
            messages.extend(ChatMessage.from_entry(i, f) for i, f in decode_entries(entries))
    except RedisError as exc:
        raise Unavailable("Chat storage is unavailable.") from exc
    messages.sort(key=ChatMessage.sort_key)
    return Replay(messages, lost)
