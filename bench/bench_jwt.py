"""JWT revocation: cost per authenticated request against plain simplejwt, and Redis bytes per revoked token.

"Ours" is ``RedisJWTAuthentication.authenticate()`` (simplejwt's token validation, then one MGET
that answers token / device-session / user revocation and returns the cached user row). The
anchor is simplejwt's ``JWTAuthentication`` (validation + a SQL user lookup, no revocation at
all) in the same run; ``JWTStatelessUserAuthentication`` (no SQL, no revocation) is shown as
the floor. Each call gets a fresh request, as a real request would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run(bench) -> None:
    from django.contrib.auth import get_user_model
    from django.http import HttpRequest

    from sessions_app.jwt.authentication import RedisJWTAuthentication
    from sessions_app.jwt.tokens import SessionRefreshToken

    bench.flush()
    model = get_user_model()
    model.objects.filter(username="bench-jwt").delete()
    user = model.objects.create_user(username="bench-jwt", password="bench-Password-1", email="b@example.com")
    refresh = SessionRefreshToken.for_session(user, "bench-session")
    header = f"Bearer {refresh.access_token}"

    def request() -> HttpRequest:
        http_request = HttpRequest()
        http_request.META["HTTP_AUTHORIZATION"] = header
        return http_request

    ours = RedisJWTAuthentication()
    assert ours.authenticate(request())[0].pk == user.pk  # also fills the user row
    _compare_authenticate(bench, ours, request)
    _hot_path(bench, ours, request)
    _revocation_memory(bench, user)
    user.delete()


def _compare_authenticate(bench, ours: Any, request: Callable[[], Any]) -> None:
    """``ours.authenticate()`` timed against simplejwt's SQL-backed class and its stateless floor."""
    from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication

    simplejwt, stateless = JWTAuthentication(), JWTStatelessUserAuthentication()
    number = 2000
    bench.compare("JWT", "authenticate() with revocation check", ours=lambda: ours.authenticate(request()),
                  anchor=lambda: simplejwt.authenticate(request()),
                  anchor_name="simplejwt JWTAuthentication (SQL user)", number=number,
                  target="≤ simplejwt JWTAuthentication", target_ratio=1.0)
    bench.compare("JWT", "authenticate() vs stateless floor", ours=lambda: ours.authenticate(request()),
                  anchor=lambda: stateless.authenticate(request()),
                  anchor_name="simplejwt JWTStatelessUserAuthentication (no SQL, no revocation)", number=number // 2)


def _hot_path(bench, ours: Any, request: Callable[[], Any]) -> None:
    """The issue's hot-path rule: at most one Redis round trip added, no SQL query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.bench_sessions import round_trips

    trips = round_trips(lambda: ours.authenticate(request()))
    bench.figure("JWT", "Redis round trips per authenticate() (revocation + cached user)", trips, "round trips",
                 target="<= 1", met=trips <= 1)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            ours.authenticate(request())
    bench.figure("JWT", "SQL queries per authenticate() (user row cached)", len(queries) / 50, "queries",
                 target="0 on the hot path", met=len(queries) == 0)


def _revocation_memory(bench, user: Any) -> None:
    """Redis memory per marker (MEMORY USAGE, bytes, includes the key and Redis' per-key overhead)."""
    from caching_app.foundation.connections import get_redis
    from sessions_app.jwt.blacklist import TokenBlacklist, cutoff_key, session_key, token_key
    from sessions_app.jwt.tokens import SessionRefreshToken

    client = get_redis("state")
    service = TokenBlacklist()
    count = 200 if bench.quick else 2000
    before = client.info("memory")["used_memory"]
    jtis = []
    for index in range(count):
        token = SessionRefreshToken.for_session(user, f"s{index}").access_token
        service.add_token(token)
        jtis.append(token["jti"])
    grown = (client.info("memory")["used_memory"] - before) / count
    usage = client.memory_usage(token_key(user.pk, jtis[0]), samples=0)
    bench.figure("JWT", "Redis memory per revoked token (MEMORY USAGE)", usage, "bytes")
    bench.figure("JWT", "Redis used_memory growth per revoked token", round(grown), "bytes")
    service.revoke_session(user.pk, "bench-session")
    service.revoke_user(user.pk)
    bench.figure("JWT", "Redis memory per revoked device session",
                 client.memory_usage(session_key(user.pk, "bench-session"), samples=0), "bytes")
    bench.figure("JWT", "Redis memory per log-out-everywhere (any number of tokens)",
                 client.memory_usage(cutoff_key(user.pk), samples=0), "bytes")
