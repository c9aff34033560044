"""The pubsub component: publish on a private channel and receive the message back."""

from __future__ import annotations

import time
import uuid
from time import perf_counter
from typing import Any

from caching_app.foundation.connections import STATE
from caching_app.foundation.keys import make_key
from health_app.conf import health_settings
from health_app.probes import get_probe_redis

from .base import HealthCheck, HealthCheckError


class PubSubCheck(HealthCheck):
    name = "pubsub"
    alias = STATE  # the channel layer's server

    def run(self) -> dict[str, Any]:
        from health_app.metrics import pubsub_summary

        client = get_probe_redis(self.alias)
        channel = make_key("health", "pubsub-probe", uuid.uuid4().hex)
        payload = uuid.uuid4().hex.encode()
        wait = float(health_settings.PROBE_SOCKET_TIMEOUT)
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(channel)
            # Publish only once the server confirmed the subscription: SUBSCRIBE and PUBLISH travel
            # on different connections, so the server could otherwise see the PUBLISH first.
            deadline = time.monotonic() + wait
            if _next(pubsub, "subscribe", deadline) is None:
                msg = f"the subscription was not confirmed within {wait:g}s"
                raise HealthCheckError(msg)
            start = perf_counter()
            receivers = client.publish(channel, payload)
            message = _next(pubsub, "message", time.monotonic() + wait)
            round_trip_ms = round((perf_counter() - start) * 1000, 3)
        finally:
            pubsub.close()
        if message is None or message.get("data") != payload:
            msg = f"the probe message did not come back within {wait:g}s"
            raise HealthCheckError(msg)
        info = client.info("stats")
        return {
            "stats": {
                "alias": self.alias,
                "round_trip_ms": round_trip_ms,
                "receivers": receivers,
                "server_channels": int(info.get("pubsub_channels", 0)),
                "server_patterns": int(info.get("pubsub_patterns", 0)),
                "messages": pubsub_summary(),
            }
        }


def _next(pubsub: Any, kind: str, deadline: float) -> dict[str, Any] | None:
    """The next message of type ``kind`` before ``deadline`` (monotonic), or None."""
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message is not None and message.get("type") == kind:
            return message
    return None
