"""realtime_app's Lua scripts (``lua/*.lua``), registered once per client with redis-py's ``register_script``.

``Script.__call__`` (and ``AsyncScript.__call__`` for redis.asyncio clients) sends EVALSHA and reloads
the script on NOSCRIPT (after a restart, a failover, SCRIPT FLUSH): one round trip in the steady state.
"""

from __future__ import annotations

import weakref
from functools import cache
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"

_registered: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


@cache
def lua_source(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text()


def get_script(client: Any, name: str) -> Any:
    """The registered script ``name`` for ``client`` (a ``Script``, or an ``AsyncScript`` for async clients)."""
    scripts = _registered.get(client)
    if scripts is None:
        scripts = _registered.setdefault(client, {})
    script = scripts.get(name)
    if script is None:
        script = scripts[name] = client.register_script(lua_source(name))
    return script
