"""Lua scripts kept in an app's ``lua/`` folder, each registered once per Redis client.

redis-py's ``register_script`` returns a ``Script`` (``AsyncScript`` for redis.asyncio clients)
whose ``__call__`` sends EVALSHA and, on NOSCRIPT (after SCRIPT FLUSH, a restart, a failover to a
replica that never saw the script), loads the script and retries: one round trip in the steady
state. The connection layer keeps one sync client per process and one async client per event
loop, so registration happens once per client, never per call. Each script file starts with a
header stating its KEYS, ARGV and return value.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .twins import Eval


class LuaScripts:
    """The ``*.lua`` files of one folder: ``scripts.get(client, "name")`` is ready to call."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._sources: dict[str, str] = {}
        self._shas: dict[str, str] = {}
        self._registered: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

    def source(self, name: str) -> str:
        text = self._sources.get(name)
        if text is None:
            text = self._sources[name] = (self.directory / f"{name}.lua").read_text()
        return text

    def sha(self, name: str) -> str:
        """The SHA1 EVALSHA names ``name`` by (as redis-py's ``Script`` computes it), for raw pipelined calls."""
        digest = self._shas.get(name)
        if digest is None:
            digest = self._shas[name] = hashlib.sha1(self.source(name).encode()).hexdigest()  # noqa: S324 - Redis' id
        return digest

    def step(self, name: str, keys: Sequence[str], args: Sequence[Any] = ()) -> Eval:
        """A twin-driver step (:mod:`.twins`) that runs script ``name`` of this folder."""
        return Eval(self, name, keys, args)

    def get(self, client: Any, name: str) -> Any:
        """The registered script ``name`` for ``client``."""
        scripts = self._registered.get(client)
        if scripts is None:
            scripts = self._registered.setdefault(client, {})
        script = scripts.get(name)
        if script is None:
            script = scripts[name] = client.register_script(self.source(name))
        return script
