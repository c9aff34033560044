"""PubSubService: the original design's operations for code outside Channels consumers.

Subscriptions are async iterators over a fresh channel-layer channel joined to the user's group;
close them (``async with contextlib.aclosing(...)`` or ``break`` inside ``async for``) to leave the
group. Publishing goes through the same services as the sockets, so messages are stored in the
Streams and replayable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model

from . import chat, notifications
from .errors import InvalidInput
from .keys import chat_group, notification_group


class PubSubService:
    """``subscribe_to_chat_messages``, ``publish_chat_message``, ``subscribe_to_notifications``,
    ``publish_notification`` (all async)."""

    def __init__(self, layer_alias: str = "default"):
        self.layer_alias = layer_alias

    @property
    def layer(self) -> Any:
        return get_channel_layer(self.layer_alias)

    async def _subscribe(self, group: str, event_type: str, render: Callable[[dict[str, Any]], dict[str, Any]]
                         ) -> AsyncIterator[dict[str, Any]]:
        layer = self.layer
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            while True:
                event = await layer.receive(channel)
                if event.get("type") == event_type:
                    yield render(event)
        finally:
            await layer.group_discard(group, channel)

    def subscribe_to_chat_messages(self, user_id: object) -> AsyncIterator[dict[str, Any]]:
        """Every chat message to or from ``user_id`` from now on (the same frames the sockets get)."""
        return self._subscribe(chat_group(user_id), "chat.deliver",
                               lambda event: chat.ChatMessage.from_event(event["message"]).as_frame())

    def subscribe_to_notifications(self, user_id: object) -> AsyncIterator[dict[str, Any]]:
        """Every notification of ``user_id`` from now on."""
        return self._subscribe(notification_group(user_id), "notification.deliver",
                               lambda event: event["notification"])

    async def publish_chat_message(self, sender: Any, recipient_id: object, text: str) -> chat.ChatMessage:
        """Send as ``sender`` (a user or a user id): validated, stored, delivered like a socket frame."""
        if not hasattr(sender, "pk"):
            pk = chat.clean_user_id(sender, "from")
            sender = await database_sync_to_async(
                lambda: get_user_model()._default_manager.filter(pk=pk, is_active=True).first())()
            if sender is None:
                msg = "No such sender."
                raise InvalidInput(msg, code="invalid_sender")
        return await chat.asend_message(sender, recipient_id, text)

    async def publish_notification(self, user_id: object, kind: str, title: str, data: Any = None
                                   ) -> notifications.Notification:
        return await notifications.apublish_notification(user_id, kind, title, data)


pubsub_service = PubSubService()
