"""The Lua scripts in ``lua/*.lua``, registered once per Redis client with ``register_script``.

redis-py's ``Script.__call__`` sends EVALSHA and reloads the script on NOSCRIPT (after a
restart or SCRIPT FLUSH), so callers never see that error. Registered scripts are cached on
the client object: the connection layer keeps one sync client per process and one async
client per event loop, so this is once per client, never per call.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"


@cache
def source(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text()


def script(client: Any, name: str) -> Any:
    """The registered script ``name`` on ``client`` (sync ``Script`` or ``AsyncScript``)."""
    registered = client.__dict__.setdefault("_winkr_sessions_scripts", {})
    found = registered.get(name)
    if found is None:
        found = registered[name] = client.register_script(source(name))
    return found
