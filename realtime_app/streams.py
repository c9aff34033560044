"""Helpers over capped Redis Streams: ids, entries, and whether a cursor fell off the capped end.

Stream ids (``<ms>-<seq>``) are what clients hold as cursors; every id a client sends is parsed
here before it reaches Redis (:func:`client_position`), so Redis never answers a ``ResponseError`` to
client input: both parts must fit in 64 bits, and an exclusive bound must leave room for an entry
(nothing comes after ``2^64-1-2^64-1``, nothing before ``0-0``; Redis refuses those intervals).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# ASCII digits only (``\d`` also matches other scripts' digits), 19 at most (always below 2**64), no
# surrounding whitespace: exactly what the API schema states (CURSOR_PATTERN, realtime_app.views).
STREAM_ID = re.compile(r"^([0-9]{1,19})(?:-([0-9]{1,19}))?$")
MAX_PART = 2**64 - 1
FIRST_ID = (0, 0)
LAST_ID = (MAX_PART, MAX_PART)


class InvalidStreamId(ValueError):
    pass


def parse_stream_id(value: object) -> tuple[int, int]:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)``; a bare ``"<ms>"`` means ``<ms>-0``."""
    text = value.decode() if isinstance(value, bytes) else str(value)
    match = STREAM_ID.match(text)
    if not match:
        msg = f"{text[:40]!r} is not a stream id (want <milliseconds>-<sequence>)"
        raise InvalidStreamId(msg)
    ms, seq = int(match.group(1)), int(match.group(2) or 0)
    if ms > MAX_PART or seq > MAX_PART:
        msg = f"{text[:40]!r} is out of range (each part at most {MAX_PART})"
        raise InvalidStreamId(msg)
    return ms, seq


def client_position(value: object, field: str) -> tuple[int, int]:
    """A stream id a client sent as the exclusive bound of a range read, or :class:`InvalidInput`.

    ``field`` is ``"since"`` (read after it: XRANGE ``(<id>``) or ``"before"`` (read before it:
    XREVRANGE ``(<id>``); the error code is ``invalid_<field>``. The one parser for every such
    id, on REST and sockets alike.
    """
    from .errors import InvalidInput

    code = f"invalid_{field}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        msg = f"'{field}' must be a stream id."
        raise InvalidInput(msg, code=code)
    try:
        position = parse_stream_id(value)
    except InvalidStreamId as exc:
        msg = f"'{field}': {exc}."
        raise InvalidInput(msg, code=code) from None
    if field == "since" and position == LAST_ID:
        msg = f"'{field}': nothing can come after {format_stream_id(LAST_ID)}."
        raise InvalidInput(msg, code=code)
    if field == "before" and position == FIRST_ID:
        msg = f"'{field}': nothing can come before 0-0."
        raise InvalidInput(msg, code=code)
    return position


def format_stream_id(parts: tuple[int, int]) -> str:
    return f"{parts[0]}-{parts[1]}"


def id_time(stream_id: str) -> str:
    """The ISO 8601 time Redis stamped into a stream id (its milliseconds part)."""
    ms = parse_stream_id(stream_id)[0]
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def decode_fields(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {key.decode(): value.decode() for key, value in fields.items()}


def decode_entries(entries: Any) -> list[tuple[str, dict[str, str]]]:
    """``(id, fields)`` pairs as text, from an XRANGE/XREVRANGE reply (redis-py types it loosely)."""
    return [(entry_id.decode(), decode_fields(fields)) for entry_id, fields in entries or []]


def cursor_lost(info: dict[Any, Any] | None, since: tuple[int, int], maxlen: int) -> bool:
    """True when entries after ``since`` may have been trimmed away (the client must resync).

    Entries were removed when the stream's first entry is newer than the cursor and the stream
    once held more than it does now: Redis 7 counts ``entries-added`` (trimming does not move its
    ``max-deleted-entry-id``, XDEL does); Redis 6.2 does not, so there a stream at its cap counts as trimmed.
    """
    if not info:
        return False
    info = {(k.decode() if isinstance(k, bytes) else k): v for k, v in info.items()}
    deleted = info.get("max-deleted-entry-id")
    if deleted is not None and parse_stream_id(deleted) > since:
        return True
    first = info.get("first-entry")
    if not first or parse_stream_id(first[0]) <= since:
        return False
    length = int(info.get("length", 0))
    added = info.get("entries-added")
    return int(added) > length if added is not None else length >= maxlen
