"""Checks shared by every realtime entry point (socket frames, REST views, services) on client text."""

from __future__ import annotations

from .errors import InvalidInput


def require_utf8(text: str, field: str, code: str) -> str:
    """``text`` unchanged, or :class:`InvalidInput` when it cannot be encoded as UTF-8.

    JSON lets a client send a lone UTF-16 surrogate (``"\\ud800"``); Python keeps it in the ``str``,
    and hiredis raises when it writes it to Redis (a 500, or a crashed socket). Checked before the text
    reaches a key or a command.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            msg = f"'{field}' is not valid Unicode (lone surrogate)."
            raise InvalidInput(msg, code=code) from None
    return text
