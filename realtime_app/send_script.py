"""One round trip per chat message on one Redis server: rate limit, append, partner index and publish in one script.

The rate limit lives in the sender's hash tag, the conversation in the pair's, the partner indexes in each
user's: on a Cluster those are different slots and cannot share a script, so ``realtime_app.chat`` keeps
one step per slot there. On one server (standalone, Sentinel) every key is on the same node, and
``lua/send_message.lua`` runs them all, declaring every key. The limit still decides before anything is
stored. The script is assembled from the limiter's own Lua and ``append_message.lua`` (each wrapped as a
function of its KEYS and ARGV), so the rules exist once and a message counts in the very key the REST
path's check uses. Where the channel layer is on that server too, the script publishes the stored message
as well (``realtime_app.delivery.script_publish``): one round trip from frame to delivery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from caching_app.foundation.connections import redis_connections
from caching_app.foundation.scripts import LuaScripts
from caching_app.foundation.twins import Eval
from ratelimit_app.conf import ratelimit_settings
from ratelimit_app.limiter import RateLimitConfig, decision_from_reply, new_token
from ratelimit_app.scripts import lua_source as limiter_source

from .conf import realtime_settings
from .delivery import ScriptPublish
from .keys import partners_key
from .limits import retry_wait
from .scripts import LUA_SCRIPTS

__all__ = ["SendReply", "fused_send", "parse_send_reply", "single_server"]


def _as_function(name: str, source: str) -> str:
    # A chunk's KEYS and ARGV become the function's parameters, shadowing the script's globals; its
    # top-level ``return`` becomes the function's.
    return f"local function {name}(KEYS, ARGV)\n{source}\nend\n"


class SendScripts(LuaScripts):
    """``send_message.lua`` with the limiter's script of one algorithm (the script name) in front."""

    def source(self, name: str) -> str:
        text = self._sources.get(name)
        if text is None:
            text = self._sources[name] = (_as_function("rate_limit", limiter_source(name))
                                          + _as_function("append_message", LUA_SCRIPTS.source("append_message"))
                                          + LUA_SCRIPTS.source("send_message"))
        return text


SEND_SCRIPTS = SendScripts(LUA_SCRIPTS.directory)


def single_server() -> bool:
    """Whether the chat keys and the rate-limit keys are on one Redis server (and database), not a Cluster."""
    alias = realtime_settings.REDIS_ALIAS
    return (redis_connections.config(alias).mode != "cluster"
            and redis_connections.same_server(ratelimit_settings.REDIS_ALIAS, alias))


@dataclass(frozen=True)
class SendReply:
    """The fused script's reply: ``retry_after`` (None: allowed), else the append's reply, whether it indexed
    and whether it published the message."""

    retry_after: float | None
    stored: list[Any]
    indexed: bool
    published: bool


def fused_send(config: RateLimitConfig, sender_id: str, recipient_id: str, append: Eval, *, index: bool,
               max_partners: int, publish: ScriptPublish | None, exclude_channel: str | None) -> tuple[Eval, str]:
    """The one-script step for ``append`` (``chat._append``'s step) behind the ``config`` limit, indexing the
    pair's partners (``max_partners`` kept per user) if ``index`` or the conversation is new, and publishing
    the new message as ``publish`` says (None: the caller publishes); and its token."""
    token = new_token()
    keys = [config.redis_key(sender_id), append.keys[0], partners_key(sender_id), partners_key(recipient_id),
            *append.keys[1:]]
    channels = publish.channels if publish is not None else []
    skip = "1" if publish is not None and publish.skip_last_if_alone else "0"
    args = [token, config.requests, config.window_ms, "1" if index else "0", int(time.time() * 1000),
            int(realtime_settings.CHAT_STREAM_TTL), max_partners, sender_id, recipient_id, len(channels), *channels,
            skip, exclude_channel or "", *append.args]
    return Eval(SEND_SCRIPTS, config.algorithm, keys, args), token


def parse_send_reply(config: RateLimitConfig, sender_id: str, reply: list[Any], token: str) -> SendReply:
    """Read the limit's part as the limiter reads its own reply; the rest is the append's."""
    retry_after = retry_wait(decision_from_reply([config], sender_id, reply[0], token).results[0])
    if retry_after is not None:
        return SendReply(retry_after, [], indexed=False, published=False)
    return SendReply(None, reply[1], indexed=bool(int(reply[2])), published=bool(int(reply[3])))
