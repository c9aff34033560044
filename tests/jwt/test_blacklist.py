"""The TokenBlacklist service against a real Redis: markers, TTLs, one-round-trip checks, Cluster."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rest_framework_simplejwt.settings import api_settings

from sessions_app.jwt.blacklist import (
    TokenBlacklist,
    cutoff_key,
    revocation_ttl,
    session_key,
    token_key,
)
from sessions_app.jwt.claims import TokenClaims
from sessions_app.jwt.tokens import SessionAccessToken, SessionRefreshToken

pytestmark = pytest.mark.django_db

ACCESS_SECONDS = api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()
REFRESH_SECONDS = api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()


def claims(token) -> TokenClaims:
    return TokenClaims.from_payload(token.payload)


def test_add_token_stores_the_jti_with_the_tokens_remaining_lifetime(user, mint, raw_redis):
    _, access = mint(user)
    service = TokenBlacklist()
    assert service.add_token(str(access)) is True
    key = token_key(user.pk, access["jti"])
    ttl = raw_redis.ttl(key)
    assert ACCESS_SECONDS - 5 <= ttl <= ACCESS_SECONDS + 2
    assert service.is_token_blacklisted(str(access))
    # only ids are stored: no key or value contains the encoded token
    for stored in raw_redis.scan_iter("*"):
        assert str(access).encode() not in stored
        assert str(access).encode() not in (raw_redis.get(stored) or b"")


def test_blacklist_marker_expires_with_its_token(user, raw_redis):
    access = SessionAccessToken.for_user(user)
    access.set_exp(lifetime=timedelta(seconds=2))
    service = TokenBlacklist()
    assert service.add_token(access)
    key = token_key(user.pk, access["jti"])
    assert 1 <= raw_redis.ttl(key) <= 3
    time.sleep(3.1)
    assert not raw_redis.exists(key)


def test_expired_token_needs_no_marker(user, raw_redis):
    access = SessionAccessToken.for_user(user)
    access.set_exp(lifetime=timedelta(seconds=-10))
    assert TokenBlacklist().add_token(str(access)) is False
    assert raw_redis.dbsize() == 0


def test_bare_jti_needs_its_user_and_lives_as_long_as_any_token(user, raw_redis):
    service = TokenBlacklist()
    with pytest.raises(ValueError, match="user_id"):
        service.add_token("abc123")
    assert service.add_token("abc123", user_id=user.pk)
    assert abs(raw_redis.ttl(token_key(user.pk, "abc123")) - revocation_ttl()) <= 2
    assert service.is_token_blacklisted("abc123", user_id=user.pk)
    assert service.remove_token("abc123", user_id=user.pk)
    assert not service.is_token_blacklisted("abc123", user_id=user.pk)
    assert service.remove_token("abc123", user_id=user.pk) is False


def test_forged_token_is_refused(user, mint):
    _, access = mint(user)
    header, payload, signature = str(access).split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(ValueError, match="valid token"):
        TokenBlacklist().add_token(forged)


def test_session_revocation_kills_both_tokens_of_the_session_only(user, mint, raw_redis):
    refresh, access = mint(user, "dev-A")
    other_refresh, other_access = mint(user, "dev-B")
    service = TokenBlacklist()
    service.revoke_session(user.pk, "dev-A")
    assert abs(raw_redis.ttl(session_key(user.pk, "dev-A")) - revocation_ttl()) <= 2
    assert revocation_ttl() >= REFRESH_SECONDS
    assert service.check(claims(access)).reason == "session_revoked"
    assert service.check(claims(refresh)).reason == "session_revoked"
    assert not service.check(claims(other_access)).revoked
    assert not service.check(claims(other_refresh)).revoked


def test_user_cutoff_is_one_write_and_spares_tokens_issued_after_it(user, other_user, mint, raw_redis):
    tokens = [mint(user, f"dev-{i}") for i in range(5)]
    bob_refresh, bob_access = mint(other_user)
    service = TokenBlacklist()
    before = raw_redis.dbsize()
    service.revoke_user(user.pk)
    assert raw_redis.dbsize() == before + 1
    assert abs(raw_redis.ttl(cutoff_key(user.pk)) - revocation_ttl()) <= 2
    for refresh, access in tokens:
        assert service.check(claims(access)).reason == "user_revoked"
        assert service.check(claims(refresh)).reason == "user_revoked"
    time.sleep(0.01)
    fresh_refresh, fresh_access = mint(user, "dev-new")  # same second, issued after: must work
    assert not service.check(claims(fresh_access)).revoked
    assert not service.check(claims(fresh_refresh)).revoked
    assert not service.check(claims(bob_access)).revoked


def test_check_is_a_single_round_trip(user, mint, raw_redis):
    _, access = mint(user)
    before = raw_redis.info("stats")["total_commands_processed"]
    TokenBlacklist().check(claims(access))
    after = raw_redis.info("stats")["total_commands_processed"]
    assert after - before == 2  # our MGET + this INFO


def test_rotate_refresh_accepts_once_then_reports_reuse(user, mint, raw_redis):
    refresh, _ = mint(user)
    service = TokenBlacklist()
    assert service.rotate_refresh(claims(refresh)) == "ok"
    assert REFRESH_SECONDS - 5 <= raw_redis.ttl(token_key(user.pk, refresh["jti"])) <= REFRESH_SECONDS + 2
    assert service.rotate_refresh(claims(refresh)) == "reused"
    other, _ = mint(user, "sid-2")
    service.add_token(other)
    assert service.rotate_refresh(claims(other)) == "revoked"
    third, _ = mint(user, "sid-3")
    service.revoke_session(user.pk, "sid-3")
    assert service.rotate_refresh(claims(third)) == "revoked"


@pytest.mark.cluster
def test_check_and_rotation_work_on_cluster(user, mint, redis_cluster, use_redis):
    redis_cluster.flush()
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    refresh, access = mint(user, "dev-C")
    service = TokenBlacklist()
    assert not service.check(claims(access)).revoked
    assert service.rotate_refresh(claims(refresh)) == "ok"
    assert service.rotate_refresh(claims(refresh)) == "reused"
    service.revoke_session(user.pk, "dev-C")
    assert service.check(claims(access)).reason == "session_revoked"
    service.revoke_user(user.pk, at=time.time() + 5)
    assert service.check(claims(SessionRefreshToken.for_session(user, "x"))).reason == "user_revoked"
    redis_cluster.flush()


@pytest.mark.parametrize("user_id", ["42", "a:b{c}%", "x" * 300])
def test_key_builders_equal_make_key(user_id):
    from caching_app.foundation.keys import make_key
    from sessions_app.jwt.blacklist import user_row_key

    assert token_key(user_id, "j:1") == make_key("jwt", "t", "j:1", tag=user_id)
    assert session_key(user_id, "s{1}") == make_key("jwt", "s", "s{1}", tag=user_id)
    assert cutoff_key(user_id) == make_key("jwt", "before", tag=user_id)
    assert user_row_key(user_id) == make_key("jwt", "user", tag=user_id)


def test_refresh_token_is_a_session_token_with_precise_iat(user):
    refresh = SessionRefreshToken.for_session(user, "abc")
    access = refresh.access_token
    assert access["sid"] == "abc" and refresh["sid"] == "abc"
    assert isinstance(refresh["iat"], float)
    rotated = refresh.rotated()
    assert rotated["sid"] == "abc" and rotated["jti"] != refresh["jti"]
    assert rotated["user_id"] == refresh["user_id"]
