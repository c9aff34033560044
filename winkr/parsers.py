"""DRF's JSONParser, plus a 400 for JSON nested deeper than Python's recursion limit.

``json.loads("[" * 50000)`` raises RecursionError, which DRF's parser (catching ValueError only)
let through as a 500; a client's bad body must be a 400 with a JSON body saying so.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
