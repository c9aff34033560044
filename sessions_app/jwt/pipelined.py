"""Other checks riding in the revocation round trip (``WINKR_JWT["PIPELINED_CHECKS"]``).

The revocation MGET reads keys under the user's hash tag; another app whose per-user state lives
under the same tag (ratelimit_app's user throttle) can send its commands in the same pipeline
instead of a round trip of its own. Each entry of the setting is a dotted path to a callable
``(request, view_func, user_id) -> companion | None``; a companion has

- ``queue(pipe) -> int``: add its commands (all keys tagged with ``user_id``), return how many;
- ``receive(replies)``: its replies, errors included as exception objects (never raised here);
- ``finish()`` / ``afinish()``: called by the middleware once the response is ready, whatever it is,
  unless the middleware itself refused the token;
- ``alias``: the Redis alias its keys live on. A companion whose alias is not the same server and
  database as ``WINKR_JWT["ALIAS"]`` cannot ride in this pipeline and is dropped (it then makes its
  own round trip, as without the setting).

sessions_app does not import the other apps: the project's settings name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from caching_app.foundation.connections import redis_connections

from .conf import jwt_settings

# Where the companions of a request wait for the middleware to finish them.
COMPANIONS_ATTR = "_winkr_jwt_companions"


def plan(request: Any, view_func: Any, user_id: str) -> list[Any]:
    """The companions that want to ride along for this request (usually none, one or two)."""
    companions = []
    for factory in jwt_settings.PIPELINED_CHECKS:
        companion = factory(request, view_func, user_id)
        if companion is not None and redis_connections.same_server(companion.alias, jwt_settings.ALIAS):
            companions.append(companion)
    return companions


def queue(pipe: Any, keys: list[str], companions: Sequence[Any]) -> list[int]:
    """The revocation MGET first, then each companion's commands; returns their reply counts."""
    pipe.execute_command("MGET", *keys)  # not pipe.mget(): redis-py's cluster pipeline refuses it; one slot here
    return [companion.queue(pipe) for companion in companions]


def dispatch(replies: list[Any], counts: list[int], companions: Sequence[Any]) -> list[Any]:
    """Hand each companion its replies; return the MGET's values (raising its error, if it failed)."""
    position = 1
    for companion, count in zip(companions, counts, strict=True):
        companion.receive(replies[position:position + count])
        position += count
    values = replies[0]
    if isinstance(values, BaseException):
        raise values
    return list(values)
