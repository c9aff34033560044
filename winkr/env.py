"""Typed readers for environment variables (12-factor settings).

Each reader names the variable in its error, so a typo in a deployment's environment
fails at start-up with a message instead of somewhere deep in a request.
"""

from __future__ import annotations

import os
import re
from typing import overload

from django.core.exceptions import ImproperlyConfigured

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    msg = f"Environment variable {name}={value!r} is not a boolean (use true/false)."
    raise ImproperlyConfigured(msg)


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        msg = f"Environment variable {name}={value!r} is not an integer."
        raise ImproperlyConfigured(msg) from None


def env_duration(name: str, default: float) -> float:
    """Seconds, from ``30``, ``1.5s``, ``250ms``, ``15m``, ``2h`` or ``7d``."""
    value = env_str(name)
    if value is None:
        return default
    match = _DURATION.match(value)
    if not match:
        msg = f"Environment variable {name}={value!r} is not a duration (e.g. 30, 250ms, 15m, 2h, 7d)."
        raise ImproperlyConfigured(msg)
    return float(match.group(1)) * _UNITS[match.group(2)]


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]
