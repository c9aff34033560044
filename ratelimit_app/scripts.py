"""The Lua scripts in ``lua/``, registered once per client with redis-py's ``register_script``.

``Script.__call__`` sends EVALSHA and, on NOSCRIPT (after SCRIPT FLUSH, a restart or a
failover to a replica that never saw the script), loads the script and retries: one round
trip per check in the steady state, recovery without any code of ours.
"""

from __future__ import annotations

import weakref
from functools import cache
from pathlib import Path
from typing import Any

from redis.commands.core import Script

LUA_DIR = Path(__file__).resolve().parent / "lua"

_registered: weakref.WeakKeyDictionary[Any, dict[str, Script]] = weakref.WeakKeyDictionary()


@cache
def lua_source(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text()


def get_script(client: Any, name: str) -> Script:
    """The registered :class:`~redis.commands.core.Script` ``name`` for ``client``."""
    scripts = _registered.get(client)
    if scripts is None:
        scripts = _registered.setdefault(client, {})
    script = scripts.get(name)
    if script is None:
        script = scripts[name] = client.register_script(lua_source(name))
    return script
