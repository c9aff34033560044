"""Signals other apps listen to."""

from django.dispatch import Signal

device_session_revoked = Signal()
"""Sent whenever a device session is deleted, revoked or evicted.

Keyword arguments: ``session_id``, ``user_id`` (str), ``kind`` ("cookie" or "jwt") and
``reason`` ("logout", "revoked", "evicted"). The JWT code revokes that session's tokens on
it; the realtime code closes that session's sockets. Sent after Redis changed, from sync
code with ``send`` and from async code with ``asend``.
"""
