"""The chat rate limit (one exact sliding-window check in ratelimit_app per message) and the per-socket frame rate."""

from __future__ import annotations

import functools
import time
from typing import Any

from ratelimit_app.limiter import RateLimitConfig, RateLimitResult, acheck_rate_limit, check_rate_limit

from .conf import realtime_settings


def chat_rate_config() -> RateLimitConfig:
    """Read at call time, so a settings change applies without a restart."""
    limit = realtime_settings.CHAT_RATE_LIMIT
    return _config(int(limit["requests"]), int(limit["window"]))


@functools.lru_cache(maxsize=16)
def _config(requests: int, window: int) -> RateLimitConfig:
    # Built (and validated) once per setting, not per message.
    return RateLimitConfig(requests=requests, window=window, endpoint="chat.message", key_type="user")


def retry_wait(result: RateLimitResult) -> float | None:
    """``None`` when the check allowed, else the seconds to wait (the one reading of a chat limit's result)."""
    return None if result.allowed else (result.retry_after or float(result.window))


def check_chat_rate(user_id: object) -> float | None:
    """``None`` when ``user_id`` may send now, else the seconds to wait."""
    return retry_wait(check_rate_limit(chat_rate_config(), str(user_id)))


async def acheck_chat_rate(user_id: object) -> float | None:
    """Async twin of :func:`check_chat_rate` (no thread hop in the consumer)."""
    return retry_wait(await acheck_rate_limit(chat_rate_config(), str(user_id)))


class FrameBudget:
    """Per-socket frame rate: a token bucket of ``FRAME_RATE_LIMIT['frames']`` refilled over its ``window``.

    In process, not in Redis: a socket lives in one process, and a limit that cost a Redis call per frame
    would itself be the flood it guards against. ``refused_in_a_row`` counts frames refused since the last
    accepted one, so the consumer can close a client that keeps going (``FRAME_ABUSE_LIMIT``).
    """

    def __init__(self, clock: Any = time.monotonic):
        limit = realtime_settings.FRAME_RATE_LIMIT
        self.capacity = float(limit["frames"])
        self.rate = self.capacity / float(limit["window"])
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()
        self.refused_in_a_row = 0

    def take(self) -> float | None:
        """``None`` when the frame may be handled, else the seconds until the next one may."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_in_a_row = 0
            return None
        self.refused_in_a_row += 1
        return (1 - self.tokens) / self.rate
