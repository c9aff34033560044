"""The chat rate limit: one exact sliding-window check (ratelimit_app) per message sent."""

from __future__ import annotations

from ratelimit_app.limiter import RateLimitConfig, RateLimitResult, acheck_rate_limit, check_rate_limit

from .conf import realtime_settings


def chat_rate_config() -> RateLimitConfig:
    """Read at call time, so a settings change applies without a restart."""
    limit = realtime_settings.CHAT_RATE_LIMIT
    return RateLimitConfig(requests=int(limit["requests"]), window=int(limit["window"]), endpoint="chat.message",
                           key_type="user")


def _wait(result: RateLimitResult) -> float | None:
    return None if result.allowed else (result.retry_after or float(result.window))


def check_chat_rate(user_id: object) -> float | None:
    """``None`` when ``user_id`` may send now, else the seconds to wait."""
    return _wait(check_rate_limit(chat_rate_config(), str(user_id)))


async def acheck_chat_rate(user_id: object) -> float | None:
    """Async twin of :func:`check_chat_rate` (no thread hop in the consumer)."""
    return _wait(await acheck_rate_limit(chat_rate_config(), str(user_id)))
