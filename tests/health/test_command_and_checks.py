"""manage.py health, and the system checks on WINKR_HEALTH."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from health_app.checks import check_health_settings


def test_command_prints_the_health_document():
    out = io.StringIO()
    call_command("health", stdout=out)
    report = json.loads(out.getvalue())
    assert report["status"] == "healthy"
    assert set(report["components"]) == {"redis", "cache", "sessions", "rate_limit", "pubsub"}


def test_command_exits_1_when_unhealthy(spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url)
    server.kill()
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("health", "redis", stdout=out)
    assert exit_info.value.code == 1
    report = json.loads(out.getvalue())
    assert report["status"] == "unhealthy"
    assert list(report["components"]) == ["redis"]


def test_command_rejects_unknown_components():
    with pytest.raises(CommandError, match="Unknown component"):
        call_command("health", "redsi")


def test_system_checks(configure_health):
    assert check_health_settings() == []
    configure_health(CHECKS=["health_app.components.nope.Check", "health_app.components.base.HealthCheck"],
                     TIMEOUT=0, TOKN="x", TOKEN="short")
    messages = {message.id: message.msg for message in check_health_settings()}
    assert "TOKN" in messages["winkr_health.E001"]
    assert "WINKR_HEALTH['CHECKS'][0]" in messages["winkr_health.E002"]
    assert "TIMEOUT" in messages["winkr_health.E003"]
    assert "winkr_health.W001" in messages
    configure_health(CHECKS=["health_app.components.base.HealthCheck"])
    assert "not a HealthCheck subclass with a name" in check_health_settings()[0].msg
    configure_health(CHECKS=["health_app.components.cache.CacheCheck", "health_app.components.cache.CacheCheck"])
    assert "twice" in check_health_settings()[0].msg
