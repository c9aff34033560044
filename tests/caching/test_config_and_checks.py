"""Configuration parsing and the system checks that reject unusable set-ups."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from caching_app.checks import check_caching_settings
from caching_app.foundation.checks import check_redis_config, check_state_store_eviction
from caching_app.foundation.config import parse_alias
from caching_app.foundation.keys import escape_part, hash_tag, make_key
from winkr.env import env_duration


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"MODE": "mesh"}, "unknown mode 'mesh'"),
        ({"MODE": "cluster", "URL": "redis://127.0.0.1:7000/3"}, "only has database 0"),
        ({"MODE": "cluster", "DB": 2}, "only has database 0"),
        ({"SSL_CA_CERTS": "/tmp/ca.pem"}, "does not use rediss://"),
        ({"URL": "http://127.0.0.1:6379"}, "must start with redis://"),
        ({"URL": "redis://127.0.0.1:notaport/0"}, "bad port"),
        ({"MODE": "sentinel"}, "needs at least one sentinel"),
        ({"POOL_SIZE": 0}, "must be >= 1"),
        ({"MIN_IDLE_CONNECTIONS": 80, "POOL_SIZE": 10}, "more than POOL_SIZE"),
        ({"TIMEOUT": 3}, "unknown option(s) TIMEOUT"),
        ({"READ_TIMEOUT": "soon"}, "must be a number"),
    ],
)
def test_bad_alias_configuration_is_rejected_with_the_key_named(options, message):
    with pytest.raises(ImproperlyConfigured) as info:
        parse_alias("state", options)
    assert message in str(info.value)
    assert "WINKR_REDIS['state']" in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://user:p%40ss@example.com:6380/2", ("example.com", 6380, 2, "user", "p@ss")),
        ("rediss://127.0.0.1/0", ("127.0.0.1", 6379, 0, None, None)),
        ("unix:///run/redis.sock?db=3", (None, None, 3, None, None)),
    ],
)
def test_urls_parse(url, expected):
    config = parse_alias("cache", {"URL": url})
    assert (config.host, config.port, config.db, config.username, config.password) == expected


def test_cluster_defaults_to_url_as_seed():
    config = parse_alias("state", {"MODE": "cluster", "URL": "redis://10.0.0.5:7001"})
    assert [str(node) for node in config.cluster_nodes] == ["10.0.0.5:7001"]


def test_system_check_reports_bad_config():
    with override_settings(WINKR_REDIS={"state": {"MODE": "cluster", "DB": 1}, "cache": {"SSL_KEYFILE": "k"}}):
        errors = check_redis_config()
    assert {error.id for error in errors} == {"winkr_caching.E001"}
    assert len(errors) == 2


def test_system_check_reports_cache_alias_typo():
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "winkr://cahce",
                          "OPTIONS": {"CONNECTION_FACTORY": "caching_app.django_redis.ConnectionFactory"}}}
    with override_settings(CACHES=caches):
        assert [error.id for error in check_redis_config()] == ["winkr_caching.E002"]


def test_system_check_reports_bad_ttls_and_unknown_keys():
    with override_settings(WINKR_CACHING={"TTLS": {"user_profile": -1}, "KEY_PREFX": "x"}):
        ids = sorted(error.id for error in check_caching_settings())
    assert ids == ["winkr_caching.E003", "winkr_caching.E004"]


def test_clean_configuration_passes_checks():
    assert check_redis_config() == []
    assert check_caching_settings() == []


def test_state_store_that_can_evict_is_warned_about(spawn_redis, use_redis):
    server = spawn_redis("--maxmemory-policy", "allkeys-lru")
    use_redis(server.url)
    warnings = check_state_store_eviction()
    assert [warning.id for warning in warnings] == ["winkr_caching.W001"]
    assert "allkeys-lru" in warnings[0].msg


def test_eviction_check_runs_only_with_deploy(spawn_redis, use_redis):
    # The default checks run before every migrate and runserver: they must not talk to Redis.
    from django.core import checks

    server = spawn_redis("--maxmemory-policy", "allkeys-lru")
    use_redis(server.url)
    client = redis.Redis(port=server.port)
    client.config_resetstat()
    plain = [message.id for message in checks.run_checks(tags=["redis"])]
    assert "winkr_caching.W001" not in plain
    assert "cmdstat_info" not in client.info("commandstats")
    deploy = [message.id for message in checks.run_checks(tags=["redis"], include_deployment_checks=True)]
    assert "winkr_caching.W001" in deploy


def test_noeviction_state_store_passes(spawn_redis, use_redis):
    server = spawn_redis("--maxmemory-policy", "noeviction")
    use_redis(server.url)
    assert check_state_store_eviction() == []


def test_eviction_check_survives_an_unreachable_cluster(spawn_redis, use_redis):
    # The check runs before every management command (runserver, migrate): a cluster that is down
    # must not turn them into a traceback.
    server = spawn_redis()
    seed = f"127.0.0.1:{server.port}"
    server.stop()
    use_redis(f"redis://{seed}/0", MODE="cluster", CLUSTER_NODES=[seed])
    assert check_state_store_eviction() == []


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("alice", "alice"), ("a:b", "a%3Ab"), ("{42}", "%7B42%7D"), ("100%", "100%25"), ("", "%"), ("\x00", "%00"),
     ("a~b", "a%7Eb"),
     ("line\nbreak", "line%0Abreak")],
)
def test_key_parts_are_escaped(raw, escaped):
    assert escape_part(raw) == escaped


def test_keys_cannot_collide_through_separators():
    assert make_key("session", "a:b") != make_key("session", "a", "b")
    assert make_key("rl", "x", tag="u:1") == "winkr:rl:{u%3A1}:x"
    long_key = make_key("p", "x" * 10_000)
    assert len(long_key) < 120
    assert make_key("p", "x" * 10_000) != make_key("p", "x" * 9_999)
    assert hash_tag("}{") == "{%7D%7B}"


@pytest.mark.parametrize(("text", "seconds"), [("30", 30), ("250ms", 0.25), ("15m", 900), ("2h", 7200), ("7d", 604800)])
def test_env_durations(monkeypatch, text, seconds):
    monkeypatch.setenv("WINKR_TEST_DURATION", text)
    assert env_duration("WINKR_TEST_DURATION", 1) == seconds


def test_env_duration_error_names_variable(monkeypatch):
    monkeypatch.setenv("WINKR_TEST_DURATION", "soon")
    with pytest.raises(ImproperlyConfigured, match="WINKR_TEST_DURATION"):
        env_duration("WINKR_TEST_DURATION", 1)


def test_app_settings_import_strings_and_reload():
    from caching_app.foundation.settings import AppSettings

    app_settings = AppSettings("WINKR_TEST_APP", {"HOOK": None, "HOOKS": [], "SIZE": 3}, ["HOOK", "HOOKS"])
    hooks = {"HOOK": "caching_app.foundation.keys.make_key", "HOOKS": ["caching_app.foundation.keys.hash_tag"]}
    with override_settings(WINKR_TEST_APP=hooks):
        assert app_settings.HOOK is make_key
        assert app_settings.HOOKS == [hash_tag]
        assert app_settings.SIZE == 3
    with override_settings(WINKR_TEST_APP={"SIZE": 5, "SIZ": 1}):
        assert app_settings.SIZE == 5
        assert app_settings.unknown_keys() == ["SIZ"]
    with override_settings(WINKR_TEST_APP={"HOOK": "caching_app.nope.missing"}):
        with pytest.raises(ImproperlyConfigured, match=r"WINKR_TEST_APP\['HOOK'\]"):
            _ = app_settings.HOOK
    with pytest.raises(AttributeError, match="Invalid WINKR_TEST_APP setting"):
        _ = app_settings.NOT_A_SETTING


def test_checks_reject_redis_aliases_that_winkr_redis_does_not_define():
    # Each of these typos would otherwise pass `manage.py check` and make every request reaching Redis a 500.
    from health_app.checks import check_health_settings
    from ratelimit_app.checks import check_ratelimit_settings

    with override_settings(WINKR_CACHING={"GEO_ALIAS": "geo"}, WINKR_RATELIMIT={"REDIS_ALIAS": "stat"},
                           WINKR_HEALTH={"REDIS_ALIASES": ["state", "cahce"]}):
        caching = [(error.id, error.msg) for error in check_caching_settings()]
        ratelimit = [(error.id, error.msg) for error in check_ratelimit_settings()]
        health = [(error.id, error.msg) for error in check_health_settings()]
    assert caching == [("winkr_caching.E005", "WINKR_CACHING['GEO_ALIAS'] names Redis alias 'geo', "
                                              "which WINKR_REDIS does not define.")]
    assert [(i, "'stat'" in m) for i, m in ratelimit] == [("winkr_ratelimit.E010", True)]
    assert [(i, "'cahce'" in m) for i, m in health] == [("winkr_health.E004", True)]
    with override_settings(WINKR_REDIS={**settings.WINKR_REDIS, "geo": {}}, WINKR_CACHING={"GEO_ALIAS": "geo"}):
        assert check_caching_settings() == []


def test_session_jwt_and_realtime_checks_reject_unknown_redis_aliases():
    from realtime_app.checks import check_realtime_settings
    from sessions_app.checks import check_sessions_settings
    from sessions_app.jwt.checks import check_jwt_settings

    layers = {"default": {**settings.CHANNEL_LAYERS["default"],
                          "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "aliases": ["state", "shard2"]}}}
    with override_settings(WINKR_SESSIONS={**settings.WINKR_SESSIONS, "REDIS_ALIAS": "sate"},
                           WINKR_JWT={**settings.WINKR_JWT, "ALIAS": "tokens"},
                           WINKR_REALTIME={**settings.WINKR_REALTIME, "REDIS_ALIAS": "chat"}, CHANNEL_LAYERS=layers):
        sessions = [(e.id, "'sate'" in e.msg) for e in check_sessions_settings() if e.id == "winkr_sessions.E004"]
        jwt = [(e.id, "'tokens'" in e.msg) for e in check_jwt_settings() if e.id == "winkr_jwt.E005"]
        realtime = sorted(e.msg.split(" names")[0] for e in check_realtime_settings() if e.id == "winkr_realtime.E008")
    assert sessions == [("winkr_sessions.E004", True)]
    assert jwt == [("winkr_jwt.E005", True)]
    assert realtime == ["CHANNEL_LAYERS['default']['CONFIG']['aliases']", "WINKR_REALTIME['REDIS_ALIAS']"]
    assert not [e for e in check_sessions_settings() + check_jwt_settings() + check_realtime_settings()
                if e.id in ("winkr_sessions.E004", "winkr_jwt.E005", "winkr_realtime.E008")]


def test_every_winkr_app_runs_its_own_config():
    # Django falls back to a bare AppConfig (no checks, no receivers) when an apps.py holds two subclasses.
    from django.apps import apps

    from caching_app.foundation.apps import WinkrAppConfig

    labels = ("winkr_caching", "winkr_sessions", "winkr_jwt", "winkr_ratelimit", "winkr_realtime", "winkr_health",
              "demo")
    assert all(type(apps.get_app_config(label)).__mro__[1] is WinkrAppConfig for label in labels)
