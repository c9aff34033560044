"""A second process on the same channel layer: ``python -m tests.layers.peer <kind> <WINKR_REDIS json>``.

It joins the group ``conformance.peer``, prints ``ready <channel>``, and answers every ``ping`` event
with a ``pong`` to the event's ``reply_to`` channel, until it gets ``stop``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.test.utils import override_settings  # noqa: E402

from tests.layers.kinds import build_layer  # noqa: E402


async def serve(kind: str) -> None:
    layer = build_layer(kind)
    channel = await layer.new_channel()
    await layer.group_add("conformance.peer", channel)
    print("ready", channel, flush=True)
    while True:
        event = await layer.receive(channel)
        if event["type"] == "stop":
            break
        await layer.send(event["reply_to"], {"type": "pong", "n": event["n"], "pid": os.getpid()})
    await layer.flush()


if __name__ == "__main__":
    with override_settings(WINKR_REDIS=json.loads(sys.argv[2])):
        asyncio.run(serve(sys.argv[1]))
