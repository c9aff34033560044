"""Rate strings: DRF's ``"100/min"`` syntax plus multi-unit windows such as ``"5/15m"``.

DRF's ``SimpleRateThrottle.parse_rate`` only reads the first letter of the period, so
``"5/15m"`` silently means 5 per *second* there; this parser understands the count
before the unit and rejects anything it cannot read, naming what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_RATE = re.compile(r"^\s*(?P<requests>\d+)\s*/\s*(?P<count>\d+)?\s*(?P<unit>[a-zA-Z]+)\s*$")


class InvalidRate(ValueError):
    """A rate string that cannot be read; the message says why and shows the syntax."""


@dataclass(frozen=True)
class Rate:
    requests: int
    window: int  # seconds
    text: str

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=256)
def parse_rate(text: str) -> Rate:
    """``"100/min"``, ``"5/15m"``, ``"10/s"``, ``"1000/day"``, ``"3/2h"`` -> :class:`Rate`."""
    if not isinstance(text, str):
        msg = f"A rate must be a string like '100/min', not {type(text).__name__}."
        raise InvalidRate(msg)
    match = _RATE.match(text)
    if not match:
        msg = f"Invalid rate {text!r}: expected '<requests>/<window>', e.g. '100/min', '5/15m', '10/s'."
        raise InvalidRate(msg)
    unit = match["unit"].lower()
    if unit not in UNITS:
        msg = f"Invalid rate {text!r}: unknown unit {match['unit']!r} (use s, m/min, h/hour or d/day)."
        raise InvalidRate(msg)
    count = int(match["count"]) if match["count"] else 1
    requests = int(match["requests"])
    if requests < 1:
        msg = f"Invalid rate {text!r}: the number of requests must be at least 1."
        raise InvalidRate(msg)
    if count < 1:
        msg = f"Invalid rate {text!r}: the window must be at least 1 {unit}."
        raise InvalidRate(msg)
    return Rate(requests=requests, window=count * UNITS[unit], text=text.strip())


def parse_rates(value: str | list[str] | tuple[str, ...]) -> tuple[Rate, ...]:
    """One rate or several (``["10/s", "1000/day"]`` or ``"10/s,1000/day"``): burst and sustained limits."""
    if not isinstance(value, str | list | tuple):
        msg = f"Rates must be a string or a list of strings, not {type(value).__name__}."
        raise InvalidRate(msg)
    items = value.split(",") if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str):  # the parse is cached: an unhashable item would raise TypeError there
            msg = f"A rate must be a string like '100/min', not {type(item).__name__}."
            raise InvalidRate(msg)
    return _parse_items(tuple(items))


@lru_cache(maxsize=256)
def _parse_items(items: tuple[str, ...]) -> tuple[Rate, ...]:
    # Cached: the throttles and the pipelined check read the configured rates on every request.
    rates = tuple(parse_rate(item.strip()) for item in items if item.strip())
    if not rates:
        msg = "Give at least one rate, e.g. '100/min'."
        raise InvalidRate(msg)
    return rates
