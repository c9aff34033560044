"""manage.py blacklist_token / revoke_user / blacklist_stats, and the WINKR_JWT system checks."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from sessions_app.jwt.blacklist import TokenBlacklist, token_key
from sessions_app.jwt.checks import check_jwt_settings
from sessions_app.jwt.claims import TokenClaims

pytestmark = pytest.mark.django_db


def revoked(token) -> bool:
    return TokenBlacklist().check(TokenClaims.from_payload(token.payload), with_user=False).revoked


def test_blacklist_token_by_token_and_by_jti(user, mint, raw_redis):
    _, access = mint(user)
    call_command("blacklist_token", str(access), stdout=StringIO())
    assert revoked(access)
    with pytest.raises(CommandError, match="--user"):
        call_command("blacklist_token", "some-jti")
    with pytest.raises(CommandError, match="No user"):
        call_command("blacklist_token", "some-jti", "--user", "nobody")
    call_command("blacklist_token", "some-jti", "--user", "alice", stdout=StringIO())
    assert raw_redis.exists(token_key(user.pk, "some-jti"))


def test_revoke_user_kills_every_token(user, other_user, mint):
    tokens = [mint(user, f"d{i}")[1] for i in range(3)]
    bob = mint(other_user)[1]
    out = StringIO()
    call_command("revoke_user", "alice", stdout=out)
    assert "alice" in out.getvalue()
    assert all(revoked(token) for token in tokens)
    assert not revoked(bob)
    with pytest.raises(CommandError):
        call_command("revoke_user", "nobody")


def test_blacklist_stats_counts_markers_and_bytes(user, mint):
    service = TokenBlacklist()
    for i in range(3):
        service.add_token(mint(user, f"d{i}")[1])
    service.revoke_session(user.pk, "d0")
    service.revoke_user(user.pk)
    out = StringIO()
    call_command("blacklist_stats", "--json", stdout=out)
    stats = json.loads(out.getvalue())
    assert stats["revoked_tokens"] == 3 and stats["revoked_sessions"] == 1 and stats["revoked_users"] == 1
    assert 40 < stats["bytes_per_key"]["revoked_tokens"] < 300


def test_checks_reject_bad_settings():
    assert check_jwt_settings() == []
    with override_settings(WINKR_JWT={"USER_CACHE_TTL": -1, "FAIL_OPEN": "yes", "TYPO": 1,
                                      "LOGIN_THROTTLE_CLASSES": ["no.such.Throttle"]}):
        ids = {error.id for error in check_jwt_settings()}
    assert ids == {"winkr_jwt.E001", "winkr_jwt.E002", "winkr_jwt.E003", "winkr_jwt.E004"}
