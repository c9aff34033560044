"""The authenticated, throttled, cached GET: one Redis round trip, and every guarantee kept.

Round trips are counted on the test's own redis-server: ``total_reads_processed`` (socket reads the
server handled: one per round trip of a small pipeline) and ``INFO commandstats``, before and after.
Both the sync handler (APIClient) and the async one (AsyncClient: the ASGI middleware paths) are run.

The server counts every client's reads, and a connection closing is one read too: so nothing may close in
the window. The async fixture closes its loop's clients when its test ends, and each measurement collects
garbage first, where a connection another test left behind would otherwise be closed by the collector
mid-request (one CI run counted 7 reads for 2 that way).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient, override_settings
from rest_framework.test import APIClient

from caching_app.foundation.connections import redis_connections
from ratelimit_app.limiter import get_rate_limit_statuses
from ratelimit_app.throttling import configs_for_scope
from sessions_app.jwt.authentication import RedisJWTAuthentication, token_claims
from sessions_app.jwt.blacklist import TokenBlacklist
from sessions_app.jwt.claims import TokenClaims
from sessions_app.jwt.verified import claims_of, verified_tokens

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.jwt.hotpath_urls")]

RATES = {"anon": "100/min", "user": ["5/min", "100/h"], "login": "100/min"}
# What sliding_log.lua calls inside its EVALSHA: not round trips of ours.
# What redis-py sends when it opens a connection.
CONNECTION_HANDSHAKE = ("hello", "client|setname", "client|setinfo", "select", "ping")
SCRIPT_COMMANDS = {"time", "zremrangebyscore", "zcount", "zrangebyscore", "zadd", "pexpire", "zrem"}


@pytest.fixture(params=["sync", "async"])
def get(request):
    """``get(path, token) -> (status, headers, json)`` through the sync or the async (ASGI) handler."""
    if request.param == "sync":
        client = APIClient()

        def sync_get(path, token=None):
            response = client.get(path, **({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}))
            return response.status_code, response, response.json()

        sync_get.one_off_loops = True  # type: ignore[attr-defined]
        yield sync_get
        return
    # One event loop for the whole test, as under daphne: async Redis clients are kept per loop.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = AsyncClient()

    def async_get(path, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = asyncio.run_coroutine_threadsafe(client.get(path, headers=headers), loop).result(timeout=30)
        return response.status_code, response, response.json()

    async_get.one_off_loops = False  # type: ignore[attr-defined]
    yield async_get
    # Its connections close now, not whenever the collector finds the loop (in another test's window).
    asyncio.run_coroutine_threadsafe(redis_connections.aclose_loop_clients(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def rates():
    with override_settings(WINKR_RATELIMIT={"RATES": RATES}):
        yield


def server_counts(raw_redis) -> tuple[int, dict[str, int]]:
    reads = raw_redis.info("stats")["total_reads_processed"]
    commands = {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in raw_redis.info("commandstats").items()}
    return reads, commands


def counts_before(raw_redis) -> tuple[int, dict[str, int]]:
    """The counts a window starts from. A connection left for the collector closes now: a close is one more
    ``total_reads_processed``, and inside the window it would read as a round trip."""
    gc.collect()
    return server_counts(raw_redis)


def deltas(before, after) -> tuple[int, dict[str, int]]:
    reads = after[0] - before[0] - 2  # the two INFO calls of the "after" measurement
    commands = {name: calls - before[1].get(name, 0) for name, calls in after[1].items()
                if calls != before[1].get(name, 0) and name != "info" and name not in SCRIPT_COMMANDS}
    return reads, commands


def cached_get_counts(get, path, access, raw_redis):
    """Warm ``path``'s cache entry, then ``(reads, commands, response, body)`` of one more GET."""
    for _ in range(3):  # creates the profile (which invalidates the user's group), caches it, reads it back
        status, response, _ = get(path, access)
        assert status == 200
    assert response["X-Cache"] == "HIT"
    before = counts_before(raw_redis)
    status, response, body = get(path, access)
    after = server_counts(raw_redis)
    assert status == 200 and response["X-Cache"] == "HIT"
    return (*deltas(before, after), response, body)


def test_cached_profile_get_is_one_round_trip(get, rates, user, mint, raw_redis):
    _, access = mint(user)
    reads, commands, response, body = cached_get_counts(get, "/api/profiles/me/", access, raw_redis)
    assert body["user_id"] == user.pk
    assert commands == {"mget": 2, "evalsha": 1}  # revocation + user row, user throttle, cache entry + generation
    assert reads == 1  # all three in one pipeline (caching_app.prefetch, ratelimit_app.prefetch)
    assert response["RateLimit-Policy"].startswith('"user-60s";q=5;w=60')


def test_new_rates_reach_the_pipelined_throttle_check_at_once(get, rates, user, mint, raw_redis):
    """The view's throttle plan is worked out once per settings (ratelimit_app.prefetch): new rates empty it,
    and the next request is checked against them, still in the one round trip."""
    _, access = mint(user)
    assert cached_get_counts(get, "/api/profiles/me/", access, raw_redis)[2]["X-RateLimit-Limit"] == "5"
    with override_settings(WINKR_RATELIMIT={"RATES": {**RATES, "user": ["7/min", "100/h"]}}):
        reads, commands, response, _ = cached_get_counts(get, "/api/profiles/me/", access, raw_redis)
    assert response["RateLimit-Policy"].startswith('"user-60s";q=7;w=60') and response["X-RateLimit-Limit"] == "7"
    assert commands == {"mget": 2, "evalsha": 1} and reads == 1


def test_another_users_cached_profile_is_read_ahead_from_the_url(get, rates, user, other_user, mint, raw_redis):
    _, access = mint(user)
    reads, commands, _, body = cached_get_counts(get, f"/api/profiles/{other_user.pk}/", access, raw_redis)
    assert body["user_id"] == other_user.pk
    assert commands == {"mget": 2, "evalsha": 1} and reads == 1


def test_cache_on_another_server_is_read_by_the_view(get, rates, user, mint, raw_redis, settings):
    """The pipeline is the JWT alias': a cache alias elsewhere (here: another database) is not read ahead."""
    redis_config = {alias: dict(options) for alias, options in settings.WINKR_REDIS.items()}
    redis_config["cache"]["URL"] = redis_config["cache"]["URL"].rsplit("/", 1)[0] + "/3"
    with override_settings(WINKR_REDIS=redis_config):
        _, access = mint(user)
        reads, commands, _, _ = cached_get_counts(get, "/api/profiles/me/", access, raw_redis)
    if get.one_off_loops:
        # Django's sync handler runs an async view in a one-off event loop, where the view's own read opens a
        # connection (and the last request's closes): neither is a round trip of the request's own.
        for name in CONNECTION_HANDSHAKE:
            commands.pop(name, None)
    else:
        assert reads == 2  # revocation + throttle, then the view's own cache read
    assert commands == {"mget": 2, "evalsha": 1}


def counted_get(get, path, access, raw_redis):
    """``(reads, commands, body)`` of one more GET of ``path`` after two that open the connections.

    Under Django's sync handler, the view's own reads open a connection in a one-off loop (see
    test_cache_on_another_server_is_read_by_the_view): the handshake is left out, and ``reads`` is None.
    """
    for _ in range(2):
        assert get(path, access)[0] == 200
    before = counts_before(raw_redis)
    status, _, body = get(path, access)
    after = server_counts(raw_redis)
    assert status == 200
    reads, commands = deltas(before, after)
    if get.one_off_loops:
        reads = None
        for name in CONNECTION_HANDSHAKE:
            commands.pop(name, None)
    return reads, commands, body


def test_rate_limit_status_is_one_round_trip_and_counts_nothing(get, rates, user, mint, raw_redis):
    """The status endpoint's peek rides in the revocation round trip (ratelimit_app.prefetch.status_peek)."""
    _, access = mint(user)
    assert get("/t/throttled/", access)[0] == 200  # one request counted: the status must show it
    reads, commands, body = counted_get(get, "/api/ratelimit/status/", access, raw_redis)
    assert commands == {"mget": 1, "evalsha": 1} and reads == (None if get.one_off_loops else 1)
    user_limits = [limit for limit in body["limits"] if limit["scope"] == "user"]
    assert [(limit["limit"], limit["remaining"]) for limit in user_limits] == [(5, 4), (100, 99)]
    statuses = get_rate_limit_statuses(configs_for_scope("user", "user"), str(user.pk))
    assert [r.remaining for r in statuses.results] == [4, 99]  # three status reads counted nothing


def test_rate_limit_status_reads_the_same_without_the_peek_riding_along(get, rates, user, mint, raw_redis):
    _, access = mint(user)
    assert get("/t/throttled/", access)[0] == 200
    _, _, ridden = counted_get(get, "/api/ratelimit/status/", access, raw_redis)
    with override_settings(WINKR_JWT={"PIPELINED_CHECKS": []}):
        reads, commands, alone = counted_get(get, "/api/ratelimit/status/", access, raw_redis)
    assert commands == {"mget": 1, "evalsha": 1} and reads == (None if get.one_off_loops else 2)
    assert [(x["scope"], x["policy"], x["limit"], x["remaining"]) for x in alone["limits"]] == \
        [(x["scope"], x["policy"], x["limit"], x["remaining"]) for x in ridden["limits"]]


def test_the_device_list_reads_its_index_in_the_revocation_round_trip(get, rates, user, mint, raw_redis):
    """sessions_app.prefetch.session_list: the index rides along, the hashes are the one more round trip; an
    expired entry is still trimmed, and the list is the one the service gives without the read-ahead."""
    from sessions_app import keys, services

    current = services.create_session(user.pk, kind="jwt", user_agent="Mozilla/5.0 (X11; Linux x86_64)")
    other = services.create_session(user.pk, kind="jwt")
    expired = services.create_session(user.pk, kind="jwt", ttl=1)
    _, access = mint(user, sid=current.id)
    deadline = time.monotonic() + 10
    while raw_redis.exists(keys.session_key(expired.id)) and time.monotonic() < deadline:  # its hash expired
        time.sleep(0.05)
    assert not raw_redis.exists(keys.session_key(expired.id))
    reads, commands, body = counted_get(get, "/api/sessions/", access, raw_redis)
    assert [(s["id"], s["current"]) for s in body] == [(record.id, record.id == current.id)
                                                        for record in services.list_sessions(user.pk)]
    assert {s["id"] for s in body} == {current.id, other.id}
    assert raw_redis.zscore(keys.user_index_key(keys.user_tag(str(user.pk))), expired.id) is None
    assert commands == {"mget": 1, "evalsha": 1, "zrange": 1, "hmget": 2}
    assert reads == (None if get.one_off_loops else 2)  # revocation + throttle + index, then both hashes


def test_read_ahead_entry_stays_coherent_with_invalidation(get, user, mint):
    """A profile edit invalidates the group: the next GET's read-ahead sees the new generation and misses."""
    _, access = mint(user)
    for _ in range(3):
        status, response, body = get("/api/profiles/me/", access)
    assert response["X-Cache"] == "HIT"
    client = APIClient()
    edited = client.patch("/api/profiles/me/", {"bio": "edited"}, format="json", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert edited.status_code == 200
    status, response, body = get("/api/profiles/me/", access)
    assert status == 200 and response["X-Cache"] == "MISS" and body["bio"] == "edited"
    status, response, body = get("/api/profiles/me/", access)
    assert response["X-Cache"] == "HIT" and body["bio"] == "edited"


def test_revoked_token_is_refused_at_once_and_counts_against_its_user(get, rates, user, mint):
    _, access = mint(user)
    assert get("/t/throttled/", access)[0] == 200
    TokenBlacklist().revoke_session(user.pk, access["sid"])
    status, response, body = get("/t/throttled/", access)
    assert status == 401 and body["code"] == "session_revoked"
    assert response["WWW-Authenticate"].startswith("Bearer")
    statuses = get_rate_limit_statuses(configs_for_scope("user", "user"), str(user.pk))
    assert statuses.results[0].remaining == 3  # 5/min: the good request and the revoked one


def test_a_view_on_simplejwts_own_class_still_refuses_a_revoked_token(get, user, mint):
    _, access = mint(user)
    assert get("/t/plain-simplejwt/", access)[0] == 200
    TokenBlacklist().revoke_session(user.pk, access["sid"])
    status, _, body = get("/t/plain-simplejwt/", access)
    assert status == 401 and body["code"] == "session_revoked"


def test_prefetched_throttle_is_exact(get, rates, user, mint):
    _, access = mint(user)
    remaining = [get("/t/throttled/", access)[1]["X-RateLimit-Remaining"] for _ in range(5)]
    assert remaining == ["4", "3", "2", "1", "0"]
    status, response, body = get("/t/throttled/", access)
    assert status == 429 and "user" in body["detail"]
    assert int(response["Retry-After"]) >= 1


def test_a_slot_no_throttle_used_is_given_back(get, rates, user, mint):
    """The admin-only view refuses the user before the throttles run: nothing may stay counted."""
    _, access = mint(user)
    for _ in range(4):
        assert get("/t/admin/", access)[0] == 403
    statuses = get_rate_limit_statuses(configs_for_scope("user", "user"), str(user.pk))
    assert [r.remaining for r in statuses.results] == [5, 100]


def test_throttles_work_alone_without_the_jwt_middleware(rates, user, mint, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("JWTRevocationMiddleware")]
    _, access = mint(user)
    client = APIClient()
    statuses = [client.get("/t/throttled/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_no_pipelined_checks_means_the_throttle_asks_redis_itself(get, rates, user, mint, raw_redis):
    _, access = mint(user)
    with override_settings(WINKR_JWT={"PIPELINED_CHECKS": []}):
        get("/t/throttled/", access)
        before = counts_before(raw_redis)
        assert get("/t/throttled/", access)[0] == 200
        reads, commands = deltas(before, server_counts(raw_redis))
    assert commands == {"mget": 1, "evalsha": 1} and reads == 2


def test_verified_token_cache_never_accepts_other_bytes_and_rechecks_expiry(get, user, mint):
    _, access = mint(user)
    access.set_exp(lifetime=timedelta(seconds=1))
    token = str(access)
    assert get("/t/throttled/", token)[0] == 200  # verified once, now kept
    assert token.encode() in verified_tokens._tokens
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    status, _, body = get("/t/throttled/", forged)
    assert status == 401 and body["code"] == "token_not_valid"
    deadline = time.monotonic() + 10
    while time.time() <= access["exp"] and time.monotonic() < deadline:  # a clock condition, not a guess
        time.sleep(0.05)
    status, _, body = get("/t/throttled/", token)
    assert status == 401 and body["code"] == "token_not_valid"
    assert token.encode() not in verified_tokens._tokens


def test_a_kept_token_carries_its_claims_and_simplejwts_expiry_boundary(user, mint):
    verified_tokens.clear()
    _, access = mint(user)
    raw = str(access).encode()
    auth = RedisJWTAuthentication()
    first = auth.get_validated_token(raw)
    kept = auth.get_validated_token(raw)
    assert claims_of(first) is None  # the first check hands out simplejwt's own token
    assert claims_of(kept) == token_claims(first) == TokenClaims.from_payload(access.payload)
    assert kept is not first and kept.payload == first.payload
    # simplejwt's check_exp refuses from exp + leeway on: the entry expires at exactly that moment
    entry = verified_tokens._tokens[raw]
    assert entry.expires_at == datetime.fromtimestamp(access["exp"], tz=UTC) + access.get_token_backend().get_leeway()
    kept.payload["user_id"] = "999999"  # a view editing request.auth edits its own copy only
    again = auth.get_validated_token(raw)
    assert again.payload["user_id"] == access["user_id"] and token_claims(again).user_id == str(user.pk)


def test_session_middleware_writes_sessions_under_asgi():
    client = AsyncClient()
    response = async_to_sync(client.get)("/t/session/")
    assert response.status_code == 200
    assert response.cookies["sessionid"].value and "Cookie" in response["Vary"]
    assert async_to_sync(sync_to_async(lambda: client.session["seen"]))() is True


def test_api_request_leaves_the_session_alone_under_asgi(user, mint):
    _, access = mint(user)
    response = async_to_sync(AsyncClient().get)("/t/throttled/", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200
    assert "sessionid" not in response.cookies and "Cookie" not in response.get("Vary", "")


@pytest.mark.cluster
def test_pipelined_check_on_cluster(get, rates, user, mint, redis_cluster, use_redis):
    redis_cluster.flush()
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    _, access = mint(user)
    remaining = [get("/t/throttled/", access)[1]["X-RateLimit-Remaining"] for _ in range(5)]
    assert remaining == ["4", "3", "2", "1", "0"]
    assert get("/t/throttled/", access)[0] == 429
    TokenBlacklist().revoke_session(user.pk, access["sid"])
    assert get("/t/throttled/", access)[0] == 401
    redis_cluster.flush()


def test_throttle_on_another_server_asks_redis_itself_and_stays_exact(get, user, mint, raw_redis, settings):
    """The counters on an alias of their own (another database): not pipelined, still one count per request."""
    redis_config = {alias: dict(options) for alias, options in settings.WINKR_REDIS.items()}
    redis_config["limits"] = dict(redis_config["state"], URL=redis_config["state"]["URL"].rsplit("/", 1)[0] + "/4")
    with override_settings(WINKR_REDIS=redis_config, WINKR_RATELIMIT={"RATES": RATES, "REDIS_ALIAS": "limits"}):
        _, access = mint(user)
        remaining = [get("/t/throttled/", access)[1]["X-RateLimit-Remaining"] for _ in range(3)]
        before = counts_before(raw_redis)
        assert get("/t/throttled/", access)[0] == 200
        reads, commands = deltas(before, server_counts(raw_redis))
    assert remaining == ["4", "3", "2"]
    assert commands == {"mget": 1, "evalsha": 1} and reads == 2
