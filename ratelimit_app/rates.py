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
        raise InvalidRate(f"A rate must be a string like '100/min', not {type(text).__name__}.")
    match = _RATE.match(text)
    if not match:
        raise InvalidRate(f"Invalid rate {text!r}: expected '<requests>/<window>', e.g. '100/min', '5/15m', '10/s'.")
    unit = match["unit"].lower()
    if unit not in UNITS:
        raise InvalidRate(
            f"Invalid rate {text!r}: unknown unit {match['unit']!r} (use s, m/min, h/hour or d/day)."
        )
    count = int(match["count"]) if match["count"] else 1
    requests = int(match["requests"])
    if requests < 1:
        raise InvalidRate(f"Invalid rate {text!r}: the number of requests must be at least 1.")
    if count < 1:
        raise InvalidRate(f"Invalid rate {text!r}: the window must be at least 1 {unit}.")
    return Rate(requests=requests, window=count * UNITS[unit], text=text.strip())


def parse_rates(value: str | list[str] | tuple[str, ...]) -> tuple[Rate, ...]:
    """One rate or several (``["10/s", "1000/day"]`` or ``"10/s,1000/day"``): burst and sustained limits."""
    if not isinstance(value, str | list | tuple):
        raise InvalidRate(f"Rates must be a string or a list of strings, not {type(value).__name__}.")
    items = value.split(",") if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str):  # parse_rate is cached: an unhashable item would raise TypeError there
            raise InvalidRate(f"A rate must be a string like '100/min', not {type(item).__name__}.")
    rates = tuple(parse_rate(item.strip()) for item in items if item.strip())
    if not rates:
        raise InvalidRate("Give at least one rate, e.g. '100/min'.")
    return rates
