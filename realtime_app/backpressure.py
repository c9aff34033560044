"""What a socket has queued in this process: frames sent by the consumer, not yet taken by the client.

ASGI's ``send`` has no backpressure, so a client that never reads makes every frame pile up in the
server. Under daphne the path of one frame is:

- the consumer's ``send`` is daphne's ``functools.partial(Server.handle_reply, protocol)`` (Channels'
  session middleware wraps it in an object holding it as ``real_send``);
- daphne calls autobahn's ``sendMessage``, which frames the payload and calls ``transport.write`` at once
  (autobahn's own ``send_queue`` is only used for chopped or "sync" sends, which daphne does not make);
- twisted's ``FileDescriptor.write`` appends to ``_tempDataBuffer``; when the socket is writable it moves
  that into ``dataBuffer`` and hands the kernel what it takes. The kernel's send buffer is bounded
  (SO_SNDBUF); twisted's is not, and its memory is what a non-reading client exhausts.

So the measure is twisted's buffer: ``len(dataBuffer) - offset + _tempDataLen`` unsent bytes. These are
private attributes, unchanged since Twisted 2; twisted's public hook (``IProducer.pauseProducing``) only
says "over 64 KiB", not how much, and cannot be shared with another producer on the transport. Behind
TLS, another server (uvicorn) or Channels' test communicator there is no such transport: ``queued()``
is ``None`` and only the other limits (page size, frame rate) apply.
"""

from __future__ import annotations

import functools
from typing import Any

# Control frames autobahn queues by itself (pings every daphne --ping-interval, pongs): tolerated when
# telling whether a given frame has left the buffer.
CONTROL_SLACK = 256


def find_transport(send: Any) -> Any:
    """The twisted transport under an ASGI ``send`` callable, or ``None``."""
    for _ in range(10):  # middleware wrappers, outermost first
        if isinstance(send, functools.partial):
            protocol = send.args[0] if send.args else None
            transport = getattr(protocol, "transport", None)
            return transport if _queued(transport) is not None else None
        owner = getattr(send, "__self__", None)
        inner = getattr(owner, "real_send", None)  # channels.sessions.InstanceSessionWrapper
        if inner is None:
            return None
        send = inner
    return None


def _queued(transport: Any) -> int | None:
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except (AttributeError, TypeError):
        return None


def frame_size(payload_bytes: int) -> int:
    """Bytes one unmasked server frame takes on the wire (RFC 6455 section 5.2 header + payload)."""
    header = 2 if payload_bytes < 126 else 4 if payload_bytes < 65536 else 10
    return header + payload_bytes


class OutgoingBuffer:
    """Per socket: bytes queued in the server (``queued``), and whether a given frame has left it yet."""

    def __init__(self, send: Any):
        self.transport = find_transport(send)
        self.written = 0  # bytes of every frame this socket sent, in order

    def queued(self) -> int | None:
        return None if self.transport is None else _queued(self.transport)

    def record(self, payload_bytes: int) -> int:
        """Count one frame sent; returns the position just after it."""
        self.written += frame_size(payload_bytes)
        return self.written

    def delivered(self, position: int) -> bool:
        """Whether everything up to ``position`` has left this process (is in the kernel or with the client).

        The buffer holds the newest bytes: if it holds fewer than were written after ``position``, the
        frame ending there is gone. Unknown (no transport) counts as delivered.
        """
        queued = self.queued()
        return queued is None or queued <= self.written - position + CONTROL_SLACK
