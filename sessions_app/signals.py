"""Signals other apps listen to."""

from django.dispatch import Signal

device_session_revoked = Signal()
"""Sent whenever a device session is deleted, revoked or evicted.

Keyword arguments: ``session_id``, ``user_id`` (str), ``kind`` ("cookie" or "jwt") and
``reason`` ("logout", "revoked", "evicted"). The JWT code revokes that session's tokens on
it; the realtime code closes that session's sockets. Sent after Redis changed, from sync
code with ``send`` and from async code with ``asend``.
"""

user_logged_out_everywhere = Signal()
"""Sent by :func:`sessions_app.revocation.log_out_everywhere`, after the user's device sessions are gone.

Keyword arguments: ``user_id`` (canonical str) and ``reason``. The JWT code writes the user's
token cut-off and closes every socket of the user (4401) on every instance on it. Sent with
``send``: a receiver's Redis error propagates, so the caller never reports a logout that did
not happen.
"""
