"""Send policies: who may message whom (``WINKR_REALTIME["SEND_POLICY"]``).

A policy is a sync callable ``(sender, recipient) -> bool``; it may query the database (the
async path runs it in a thread). A dating project narrows it to matched users.
"""

from __future__ import annotations

from typing import Any


def allow_active_users(sender: Any, recipient: Any) -> bool:
    """The default: any active user may message any other active user."""
    return bool(getattr(sender, "is_active", False) and getattr(recipient, "is_active", False))
