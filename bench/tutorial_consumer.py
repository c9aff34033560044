"""The anchor of the chat benchmark: the consumer of the Channels tutorial, addressed to one user.

The tutorial's ``ChatConsumer`` (docs "Tutorial Part 3: Rewrite Chat Server as Asynchronous"): join a group on
connect, ``receive_json`` -> ``group_send`` -> ``send_json``. The only change is the group: the tutorial's is a
room, here it is the recipient's (``{"to": <user id>, "text": ...}``), so it does the same job as one of our
chat messages with none of our work (no storage, rate limit, idempotency, partner index, replay, ack).
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer


def tutorial_group(user_id: object) -> str:
    return f"bench.tutorial.{user_id}"


class TutorialConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.group_name = tutorial_group(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.channel_layer.group_send(tutorial_group(content["to"]),
                                            {"type": "chat.message", "text": content["text"],
                                             "from": self.scope["user"].pk})

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"text": event["text"], "from": event["from"]})
