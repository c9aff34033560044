"""The chat rate limit, one check per message sent.

ratelimit_app provides the exact sliding-window limiter (``check_rate_limit(RateLimitConfig(...), key)``);
when it is importable, chat uses it. Until it is, a fixed window over one INCR+EXPIRE pipeline stands in
(one round trip, a little permissive at window edges): the only hand-written limiter here, kept so
realtime_app works on its own.
"""

from __future__ import annotations

import os
import time
from typing import Any

from caching_app.connections import get_async_redis, get_redis

from .conf import realtime_settings
from .keys import chat_rate_key


def _ratelimit_api() -> tuple[Any, Any] | None:
    try:
        from ratelimit_app.limiter import RateLimitConfig, check_rate_limit
    except ImportError:
        try:
            from ratelimit_app import RateLimitConfig, check_rate_limit  # type: ignore[attr-defined]
        except ImportError:
            return None
    return RateLimitConfig, check_rate_limit


def _limit() -> tuple[int, int]:
    config = realtime_settings.CHAT_RATE_LIMIT
    return int(config["requests"]), int(config["window"])


def _ratelimit_check(api: tuple[Any, Any], user_id: object) -> float | None:
    config_class, check = api
    requests, window = _limit()
    result = check(config_class(requests=requests, window=window, endpoint="chat.message", key_type="user"),
                   str(user_id))
    allowed = getattr(result, "allowed", result)
    if allowed:
        return None
    return float(getattr(result, "retry_after", window) or window)


def check_chat_rate(user_id: object) -> float | None:
    """``None`` when ``user_id`` may send now, else the seconds to wait."""
    api = _ratelimit_api()
    if api is not None:
        return _ratelimit_check(api, user_id)
    requests, window = _limit()
    key, retry_after = _fallback_key(user_id, window)
    pipe = get_redis(realtime_settings.REDIS_ALIAS).pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, window + 1)
    count = pipe.execute()[0]
    return None if count <= requests else retry_after


async def _aratelimit_check(api: tuple[Any, Any], user_id: object) -> float | None:
    """ratelimit_app's sliding-window script on an async client: no thread hop per chat frame.

    ratelimit_app has no async twin of ``check_rate_limit`` yet, so this sends its script the way
    ``limiter._run`` does, following the call contract in the script's header (KEYS: the limit's sorted
    set; ARGV: "consume", a unique token, requests, window in ms; reply: {allowed, remaining,
    reset_after_ms, retry_after_ms}). Replace it with ``acheck_rate_limit`` once ratelimit_app has one.
    """
    from ratelimit_app.conf import ratelimit_settings
    from ratelimit_app.scripts import get_script

    config_class, _ = api
    requests, window = _limit()
    config = config_class(requests=requests, window=window, endpoint="chat.message", key_type="user")
    client = get_async_redis(ratelimit_settings.REDIS_ALIAS)
    script = get_script(client, config.algorithm)
    reply = await script(keys=[config.redis_key(str(user_id))],
                         args=["consume", os.urandom(9).hex(), config.requests, config.window_ms], client=client)
    if int(reply[0]):
        return None
    return (int(reply[3]) / 1000) or float(window)


async def acheck_chat_rate(user_id: object) -> float | None:
    """Async twin of :func:`check_chat_rate`."""
    api = _ratelimit_api()
    if api is not None:
        return await _aratelimit_check(api, user_id)
    requests, window = _limit()
    key, retry_after = _fallback_key(user_id, window)
    pipe = get_async_redis(realtime_settings.REDIS_ALIAS).pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, window + 1)
    count = (await pipe.execute())[0]
    return None if count <= requests else retry_after


def _fallback_key(user_id: object, window: int) -> tuple[str, float]:
    now = time.time()
    start = int(now // window)
    return chat_rate_key(user_id, start), (start + 1) * window - now
