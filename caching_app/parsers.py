"""DRF's JSONParser, plus a 400 for the two bodies it lets through as a 500.

- JSON nested deeper than Python's recursion limit: ``json.loads("[" * 50000)`` raises
  RecursionError, which DRF's parser (catching ValueError only) let through.
- A lone UTF-16 surrogate (``{"username": "\\ud800"}``): valid JSON, but not text that can be
  encoded, so hiredis (or any UTF-8 encoder) fails later, deep inside a view or a throttle.

Refusing both here, where the body is parsed, protects every view of every app at once; the
check itself (:func:`caching_app.foundation.inputs.find_unencodable`) is shared with socket frame handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .foundation.inputs import find_unencodable, unencodable_message


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            msg = "JSON parse error - nested too deeply."
            raise ParseError(msg) from None
        where = find_unencodable(data)
        if where is not None:
            msg = f"JSON parse error - {unencodable_message(where)}"
            raise ParseError(msg)
        return data
