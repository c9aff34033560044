"""Bytes <-> values for cache entries: JSON by default, msgpack optional, zlib above a size.

Every payload starts with one header byte naming its format and whether it is
compressed, so a reader never guesses: switching ``SERIALIZER`` or the compression
threshold on a live system leaves older entries readable. Pickle is never used: a
cache server that can be written to must not be able to run code in Django.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import msgpack
from django.core.serializers.json import DjangoJSONEncoder

JSON = 0x01
MSGPACK = 0x02
COMPRESSED = 0x80
_FORMATS = {"json": JSON, "msgpack": MSGPACK}


class SerializationError(ValueError):
    """A payload this module did not write (unknown header, corrupt body)."""


def _msgpack_default(value: Any) -> Any:
    # Dates, Decimals, UUIDs, lazy strings: the same text forms JSON gets from DjangoJSONEncoder.
    return DjangoJSONEncoder().default(value)


class CacheSerializer:
    """``dumps``/``loads`` with a header byte; ``format`` is what new entries are written in."""

    def __init__(self, format: str = "json", compress_min_bytes: int | None = None, compress_level: int = 6):
        if format not in _FORMATS:
            msg = f"Unknown cache serializer {format!r}; use one of {', '.join(_FORMATS)}."
            raise ValueError(msg)
        self.format = _FORMATS[format]
        self.compress_min_bytes = compress_min_bytes
        self.compress_level = compress_level

    def dumps(self, value: Any) -> bytes:
        if self.format == JSON:
            body = json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
        else:
            body = msgpack.packb(value, default=_msgpack_default, use_bin_type=True)
        header = self.format
        if self.compress_min_bytes is not None and len(body) >= self.compress_min_bytes:
            packed = zlib.compress(body, self.compress_level)
            if len(packed) < len(body):  # incompressible data stays as it is
                body, header = packed, header | COMPRESSED
        return bytes((header,)) + body

    def loads(self, data: bytes) -> Any:
        if not data:
            msg = "empty cache payload"
            raise SerializationError(msg)
        header, body = data[0], data[1:]
        try:
            if header & COMPRESSED:
                body = zlib.decompress(body)
                header &= ~COMPRESSED
            if header == JSON:
                return json.loads(body)
            if header == MSGPACK:
                return msgpack.unpackb(body, raw=False)
        except (zlib.error, ValueError, msgpack.UnpackException) as exc:
            msg = f"corrupt cache payload: {exc}"
            raise SerializationError(msg) from exc
        msg = f"unknown cache payload header {data[0]:#04x}"
        raise SerializationError(msg)
