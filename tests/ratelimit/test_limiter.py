"""The Lua limiters against a real redis-server: exact counts, sliding, status, release, recovery."""

from __future__ import annotations

import os
import time

import pytest

from caching_app.foundation.connections import get_redis
from ratelimit_app import limiter
from ratelimit_app.limiter import (
    RateLimitConfig,
    check_rate_limit,
    check_rate_limits,
    get_rate_limit_status,
    release_rate_limit,
    reset_rate_limit,
)

ALGORITHMS = ["sliding_log", "sliding_window"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_exactly_the_limit_passes(algorithm):
    config = RateLimitConfig(5, 3600, endpoint="test", algorithm=algorithm)
    results = [check_rate_limit(config, "10.0.0.1") for _ in range(8)]
    assert [r.allowed for r in results] == [True] * 5 + [False] * 3
    assert [r.remaining for r in results] == [4, 3, 2, 1, 0, 0, 0, 0]
    assert results[0].limit == 5
    # The exact log frees a slot within one window. The O(1) counter weighs the full fixed window
    # it just filled into the next one, so it may ask for up to window / limit more than that.
    longest_wait = 3600 if algorithm == "sliding_log" else 3600 + 3600 / 5
    assert 0 < results[-1].retry_after <= longest_wait
    assert results[0].retry_after == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_keys_are_separate_per_client_and_endpoint(algorithm):
    config = RateLimitConfig(1, 60, endpoint="a", algorithm=algorithm)
    other_endpoint = RateLimitConfig(1, 60, endpoint="b", algorithm=algorithm)
    assert check_rate_limit(config, "k1").allowed
    assert not check_rate_limit(config, "k1").allowed
    assert check_rate_limit(config, "k2").allowed
    assert check_rate_limit(other_endpoint, "k1").allowed


def test_sliding_log_window_slides():
    config = RateLimitConfig(3, 1, endpoint="slide")
    assert check_rate_limit(config, "c").allowed
    time.sleep(0.4)
    assert check_rate_limit(config, "c").allowed
    assert check_rate_limit(config, "c").allowed
    denied = check_rate_limit(config, "c")
    assert not denied.allowed
    assert 0.45 <= denied.retry_after <= 0.61  # the first request leaves the window 1 s after it was made
    time.sleep(denied.retry_after + 0.05)
    assert check_rate_limit(config, "c").allowed, "the oldest request left the window"
    assert not check_rate_limit(config, "c").allowed, "the other two are still in it"


def test_sliding_window_counter_forgets_after_two_windows():
    config = RateLimitConfig(2, 1, endpoint="slide", algorithm="sliding_window")
    assert check_rate_limit(config, "c").allowed
    assert check_rate_limit(config, "c").allowed
    denied = check_rate_limit(config, "c")
    assert not denied.allowed and denied.retry_after > 0
    time.sleep(denied.retry_after + 0.02)
    assert check_rate_limit(config, "c").allowed


def test_sliding_window_counter_uses_constant_memory():
    config = RateLimitConfig(10_000, 3600, endpoint="mem", algorithm="sliding_window")
    for _ in range(300):
        check_rate_limit(config, "c")
    client = get_redis("state")
    key = config.redis_key("c")
    assert client.type(key) == b"hash"
    assert client.hlen(key) == 3
    assert get_rate_limit_status(config, "c").remaining == 10_000 - 300


def test_status_does_not_consume():
    config = RateLimitConfig(3, 60, endpoint="status")
    fresh = get_rate_limit_status(config, "c")
    assert (fresh.allowed, fresh.remaining, fresh.reset_after) == (True, 3, 0)
    check_rate_limit(config, "c")
    for _ in range(5):
        status = get_rate_limit_status(config, "c")
    assert status.remaining == 2
    assert 59 <= status.reset_after <= 60


def test_several_limits_are_all_or_nothing_and_binding_one_decides():
    burst = RateLimitConfig(3, 1, endpoint="multi")
    sustained = RateLimitConfig(5, 3600, endpoint="multi")
    allowed = [check_rate_limits([burst, sustained], "c").allowed for _ in range(4)]
    assert allowed == [True, True, True, False]
    # the denied 4th request was counted in neither limit
    assert get_rate_limit_status(sustained, "c").remaining == 2
    time.sleep(1.05)
    decisions = [check_rate_limits([burst, sustained], "c") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].binding.config is sustained
    assert decisions[-1].retry_after > 3000
    assert decisions[0].binding.config is sustained  # 1 of 5 left beats 2 of 3 left


def test_release_gives_the_slot_back():
    config = RateLimitConfig(2, 60, endpoint="login", key_type="custom")
    first = check_rate_limit(config, "ip user")
    check_rate_limit(config, "ip user")
    assert not check_rate_limit(config, "ip user").allowed
    release_rate_limit([config], "ip user", first.token)
    assert check_rate_limit(config, "ip user").allowed


def test_reset_forgets_everything():
    config = RateLimitConfig(1, 60, endpoint="reset")
    check_rate_limit(config, "c")
    assert not check_rate_limit(config, "c").allowed
    assert reset_rate_limit([config], "c") == 1
    assert check_rate_limit(config, "c").allowed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_recovers_after_script_flush(algorithm):
    config = RateLimitConfig(3, 60, endpoint="flush", algorithm=algorithm)
    assert check_rate_limit(config, "c").allowed
    client = get_redis("state")
    client.script_flush()
    assert client.script_exists(_sha(algorithm)) == [False]
    assert check_rate_limit(config, "c").remaining == 1
    assert client.script_exists(_sha(algorithm)) == [True]
    assert check_rate_limit(config, "c").remaining == 0
    assert not check_rate_limit(config, "c").allowed


def _sha(name):
    from ratelimit_app.scripts import get_script

    return get_script(get_redis("state"), name).sha


def test_user_input_cannot_forge_keys():
    config = RateLimitConfig(1, 60, endpoint="forge", key_type="custom")
    assert check_rate_limit(config, "a}{b:c").allowed
    key = config.redis_key("a}{b:c")
    assert key.count("{") == 1 and key.count("}") == 1
    assert check_rate_limit(config, "a").allowed


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="requests"):
        RateLimitConfig(0, 60)
    with pytest.raises(ValueError, match="key_type"):
        RateLimitConfig(1, 60, key_type="mac")
    with pytest.raises(ValueError, match="share"):
        check_rate_limits([RateLimitConfig(1, 60, endpoint="a"), RateLimitConfig(1, 60, endpoint="b")], "k")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_async_twin_shares_the_sync_limit(algorithm):
    from ratelimit_app.limiter import acheck_rate_limit

    config = RateLimitConfig(3, 60, endpoint="async-twin", algorithm=algorithm)
    assert check_rate_limit(config, "u1").allowed
    results = [await acheck_rate_limit(config, "u1") for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert results[-1].retry_after > 0
    assert not check_rate_limit(config, "u1").allowed


def test_tokens_are_unique_in_a_process_and_a_forked_child_does_not_repeat_its_parent():
    tokens = {limiter.new_token() for _ in range(10_000)}
    assert len(tokens) == 10_000
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the tokens its parent would make next, were the prefix inherited
        try:
            os.write(write_end, "\n".join(limiter.new_token() for _ in range(3)).encode())
        finally:
            os._exit(0)  # never back into the test session
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read().split("\n")
    os.waitpid(pid, 0)
    parent = [limiter.new_token() for _ in range(3)]
    assert len(child) == 3
    assert not set(child) & set(parent)
    assert not {token[:16] for token in child} & {token[:16] for token in parent}  # a prefix of its own
