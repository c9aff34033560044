"""ratelimit_app's Lua scripts (``lua/*.lua``), registered once per client (see caching_app.foundation.scripts)."""

from pathlib import Path

from caching_app.foundation.scripts import LuaScripts

LUA_SCRIPTS = LuaScripts(Path(__file__).resolve().parent / "lua")
get_script = LUA_SCRIPTS.get
lua_source = LUA_SCRIPTS.source
