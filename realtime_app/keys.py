"""Redis keys and channel-layer group names of realtime_app, built in one place."""

from __future__ import annotations

from caching_app.foundation.keys import group_name, make_key


def conversation_tag(user_a: object, user_b: object) -> str:
    """The pair of user ids in a fixed order, so both users' view of a conversation is one key.

    Also the tie-breaker of replay cursors: messages of two conversations with the same stream id
    are ordered by this tag (plain string comparison).
    """
    low, high = sorted((str(user_a), str(user_b)), key=lambda value: (len(value), value))
    # The length prefix makes the split unambiguous for ids that contain "-" themselves.
    return f"{len(low)}.{low}-{high}"


def conversation_key(user_a: object, user_b: object) -> str:
    return make_key("chat", "conversation", tag=conversation_tag(user_a, user_b))


def client_id_key(sender_id: object, recipient_id: object, client_id: str) -> str:
    """The stream id of the message ``sender_id`` sent with ``client_id`` in this conversation (dedupe).

    Same hash tag as the conversation, so the check and the XADD run in one script.
    """
    return make_key("chat", "client-id", sender_id, client_id, tag=conversation_tag(sender_id, recipient_id))


def partners_key(user_id: object) -> str:
    """Sorted set of the users ``user_id`` talks with, scored by the last message time (ms)."""
    return make_key("chat", "partners", tag=user_id)


def notifications_key(user_id: object) -> str:
    return make_key("notifications", tag=user_id)


def chat_group(user_id: object) -> str:
    """Every open chat socket of one user."""
    return group_name("winkr.chat", user_id)


def notification_group(user_id: object) -> str:
    """Every open notification socket of one user."""
    return group_name("winkr.notif", user_id)
