"""Which layer a deployment gets: REDIS_MODE decides, REALTIME_CHANNEL_LAYER overrides, checks catch mismatches."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import override_settings

from caching_app.devservers.asgi_servers import ROOT
from realtime_app.checks import check_realtime_settings

PRINT_BACKEND = "import tests.settings as s; print(s.CHANNEL_LAYERS['default']['BACKEND'])"


def backend_for(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_MODE", "REALTIME_CHANNEL_LAYER")}
    return subprocess.run([sys.executable, "-c", PRINT_BACKEND], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True)


@pytest.mark.parametrize(("env", "backend"), [
    ({}, "realtime_app.layers.RedisPubSubChannelLayer"),
    ({"REDIS_MODE": "sentinel"}, "realtime_app.layers.RedisPubSubChannelLayer"),
    ({"REDIS_MODE": "cluster"}, "realtime_app.cluster_layer.ClusterChannelLayer"),
    ({"REDIS_MODE": "cluster", "REALTIME_CHANNEL_LAYER": "pubsub"}, "realtime_app.layers.RedisPubSubChannelLayer"),
    ({"REALTIME_CHANNEL_LAYER": "core"}, "realtime_app.layers.RedisChannelLayer"),
])
def test_the_default_layer_follows_redis_mode(env, backend):
    result = backend_for(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == backend


def test_an_unknown_layer_name_is_refused_with_the_choices():
    result = backend_for(REALTIME_CHANNEL_LAYER="kafka")
    assert result.returncode != 0
    assert "REALTIME_CHANNEL_LAYER must be one of pubsub, core, cluster" in result.stderr


def layer_checks(backend: str) -> set[str]:
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": backend, "CONFIG": {"aliases": ["state"]}}}):
        return {error.id for error in check_realtime_settings()}


def test_the_cluster_layer_on_a_standalone_alias_is_an_error():
    assert "winkr_realtime.E009" in layer_checks("realtime_app.cluster_layer.ClusterChannelLayer")
    assert not {"winkr_realtime.E009", "winkr_realtime.W001"} & layer_checks(
        "realtime_app.layers.RedisPubSubChannelLayer")


@pytest.mark.cluster
def test_the_pubsub_layer_on_a_cluster_alias_is_a_warning(redis_cluster, use_redis):
    use_redis(MODE="cluster", CLUSTER_NODES=redis_cluster.seeds, URL=f"redis://{redis_cluster.seeds[0]}/0")
    assert "winkr_realtime.W001" in layer_checks("realtime_app.layers.RedisPubSubChannelLayer")
    assert not {"winkr_realtime.E009", "winkr_realtime.W001"} & layer_checks(
        "realtime_app.cluster_layer.ClusterChannelLayer")
