"""The deployment files (docker/) checked without Docker: they parse, point at real URLs and settings,
start real files, and describe the topologies the test suite itself spawns."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys

import pytest
from django.urls import Resolver404, resolve

from caching_app.devservers.redis_servers import LocalCluster, LocalSentinel, _SentinelProcess

from . import deployfiles as df

# Test-only values for the variables the Compose files require (${VAR:?...}).
COMPOSE_ENV = {
    "DJANGO_SECRET_KEY": "compose-test-secret-key-0123456789abcdef0123456789",
    "REDIS_PASSWORD": "app-password",
    "REDIS_ADMIN_PASSWORD": "admin-password",
    "REDIS_SENTINEL_PASSWORD": "sentinel-password",
    "POSTGRES_PASSWORD": "postgres-password",
}
TOPOLOGIES = [None, "cluster", "sentinel"]


@pytest.mark.parametrize("path", df.yaml_files(), ids=lambda p: str(p.relative_to(df.ROOT)))
def test_every_yaml_file_parses(path):
    documents = df.load_all(path)
    assert documents, f"{path} holds no YAML document"
    assert all(isinstance(doc, dict) for doc in documents)


def test_yaml_files_found():
    names = {str(path.relative_to(df.DOCKER)) for path in df.yaml_files()}
    assert {"docker-compose.yml", "docker-compose.cluster.yml", "docker-compose.sentinel.yml",
            "k8s/deployment.yaml", "k8s/service.yaml", "k8s/redis.yaml", "k8s/configmap.yaml",
            "k8s/secret.yaml"} <= names


def _all_probe_paths() -> set[str]:
    paths = set()
    for topology in TOPOLOGIES:
        app = df.compose_project(topology)["services"][df.APP_SERVICE]
        paths |= df.probe_paths(json.dumps(app["healthcheck"]["test"]))
    for _, container in df.k8s_app_containers():
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in container:
                paths.add(container[probe]["httpGet"]["path"])
    for instruction, arguments in df.dockerfile_instructions():
        if instruction == "HEALTHCHECK":
            paths |= df.probe_paths(arguments)
    return paths


def test_probes_use_the_health_endpoints():
    assert _all_probe_paths() == {"/health/liveness", "/health/readiness"}


@pytest.mark.parametrize("path", sorted(_all_probe_paths()))
def test_probe_path_resolves_in_the_urlconf(path):
    try:
        match = resolve(path)
    except Resolver404:
        pytest.fail(f"{path} (used by a probe in docker/) is not in the project's URLconf")
    assert match.func is not None


def _deployment_environments() -> list[tuple[str, dict[str, str]]]:
    """(where, environment) for every app container the deployment files define."""
    envs = []
    for topology in TOPOLOGIES:
        app = df.compose_project(topology)["services"][df.APP_SERVICE]
        raw = df.compose_environment(app)
        resolved = {name: df.interpolate(value, COMPOSE_ENV) for name, value in raw.items()}
        envs.append((f"compose:{topology or 'standalone'}", resolved))
    for name, container in df.k8s_app_containers():
        envs.append((f"k8s:{name}", df.k8s_container_environment(container)))
    return envs


def test_settings_reader_finds_the_redis_prefix_scheme():
    names = df.settings_variables()
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "HEALTH_TOKEN", "REDIS_URL",
            "REDIS_CACHE_URL", "REDIS_PASSWORD", "REDIS_CACHE_PASSWORD", "REDIS_MODE", "REDIS_SENTINELS",
            "REDIS_SENTINEL_SERVICE", "REDIS_CLUSTER_NODES", "REDIS_MIN_IDLE_CONNS", "REDIS_TLS_CA_CERTS"} <= names
    assert "REDIS_MIN_IDLE_CONNECTIONS" not in names  # the setting key, not the variable


@pytest.mark.parametrize(("where", "env"), _deployment_environments(), ids=lambda v: v if isinstance(v, str) else "")
def test_app_environment_names_only_variables_the_settings_read(where, env):
    unknown = sorted(set(env) - df.settings_variables() - df.FRAMEWORK_VARIABLES)
    assert not unknown, f"{where} sets variables winkr/settings.py never reads: {unknown}"


@pytest.mark.parametrize(("where", "env"), _deployment_environments(), ids=lambda v: v if isinstance(v, str) else "")
def test_app_environment_sets_every_required_setting(where, env):
    assert env.get("DJANGO_DEBUG", "false").lower() in ("", "0", "false", "no", "off"), f"{where}: DEBUG on"
    assert env.get("DJANGO_SECRET_KEY"), f"{where}: DJANGO_SECRET_KEY is required when DEBUG is off"
    assert env.get("DJANGO_ALLOWED_HOSTS"), f"{where}: set DJANGO_ALLOWED_HOSTS"
    assert env.get("DATABASE_URL"), f"{where}: DATABASE_URL (the default SQLite path is not writable in the image)"
    assert env.get("REDIS_URL") and env.get("REDIS_PASSWORD"), f"{where}: Redis URL and password"
    mode = env.get("REDIS_MODE", "standalone")
    if mode == "cluster":
        assert env.get("REDIS_CLUSTER_NODES")
    if mode == "sentinel":
        assert env.get("REDIS_SENTINELS") and env.get("REDIS_SENTINEL_SERVICE")


@pytest.mark.parametrize(("where", "env"), _deployment_environments(), ids=lambda v: v if isinstance(v, str) else "")
def test_app_environment_is_accepted_by_the_settings_and_answers_the_liveness_probe(where, env):
    """Import the real settings with the deployment's environment and send the probe's request.

    The probe sends Host: localhost and X-Forwarded-Proto: https (see the Dockerfile and k8s probes): it
    must get 200, not DisallowedHost (400) nor the HTTPS redirect (301). Liveness never touches Redis.
    """
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "from django.core.checks import run_checks;"
        "from caching_app.foundation.config import parse_alias;"
        "from django.conf import settings;"
        "[parse_alias(a, o) for a, o in settings.WINKR_REDIS.items()];"
        "r = Client().get('/health/liveness', HTTP_HOST='localhost', HTTP_X_FORWARDED_PROTO='https');"
        "print(json.dumps({'status': r.status_code, 'debug': settings.DEBUG}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "DATABASE_", "HEALTH_"))}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=df.ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "winkr.settings"},
    )
    assert result.returncode == 0, f"{where}: settings rejected the environment:\n{result.stderr[-2000:]}"
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"status": 200, "debug": False}, where


def test_dockerfile_entrypoint_and_command_exist_in_the_project():
    instructions = df.dockerfile_instructions()
    copies = {}
    for instruction, arguments in instructions:
        if instruction == "COPY" and "--from" not in arguments:
            *sources, destination = df.exec_form(arguments)
            for source in sources:
                assert (df.ROOT / source).exists(), f"COPY {source}: no such file in the project"
                copies[destination] = df.ROOT / source
    (entrypoint,) = [df.exec_form(a) for i, a in instructions if i == "ENTRYPOINT"]
    (command,) = [df.exec_form(a) for i, a in instructions if i == "CMD"]
    script = copies[entrypoint[0]]
    assert os.access(script, os.X_OK), f"{script} must be executable"
    body = script.read_text()
    assert body.startswith("#!/bin/sh") and "manage.py migrate --noinput" in body and 'exec "$@"' in body
    assert "./manage.py" in copies and copies["./manage.py"].name == "manage.py"
    assert command[0] == "daphne" and "0.0.0.0" in command and "8000" in command
    module, _, attribute = command[-1].partition(":")
    assert (module, attribute) == ("winkr.asgi", "application")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_dockerfile_is_multi_stage_slim_non_root_with_build_time_collectstatic():
    instructions = df.dockerfile_instructions()
    stages = [a for i, a in instructions if i == "FROM"]
    assert len(stages) >= 2 and all(a.startswith("python:3.11-slim") for a in stages)
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    runs = " ".join(a for i, a in instructions if i == "RUN")
    assert "pip install" in runs and "collectstatic --noinput" in runs
    assert ("EXPOSE", "8000") in instructions


def test_k8s_deployment_has_replicas_probes_resources_and_env_sources():
    (deployment,) = [d for d in df.k8s_documents() if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveness"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert {"requests", "limits"} <= set(container["resources"])
    sources = {next(iter(s)) for s in container["envFrom"]}
    assert sources == {"configMapRef", "secretRef"}
    (secret,) = [d for d in df.k8s_documents() if d["kind"] == "Secret" and d["metadata"]["name"] == "winkr-secrets"]
    assert {"REDIS_PASSWORD", "DJANGO_SECRET_KEY"} <= set(secret["stringData"])
    services = {d["metadata"]["name"] for d in df.k8s_documents() if d["kind"] == "Service"}
    assert {"winkr", "redis"} <= services


def test_k8s_redis_is_a_statefulset_with_a_volume_and_the_same_acl():
    (redis,) = [d for d in df.k8s_documents() if d["kind"] == "StatefulSet"]
    assert redis["spec"]["volumeClaimTemplates"]
    (config,) = [d for d in df.k8s_documents() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "redis-acl"]
    assert config["data"]["redis-acl.conf"] == df.ACL_FILE.read_text()
    command = " ".join(redis["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "--appendonly yes" in command and "--user winkr on" in command and "set -f" in command


def _redis_commands(project: dict) -> dict[str, str]:
    return {name: " ".join(map(str, svc.get("command") or [])) for name, svc in project["services"].items()
            if str(svc.get("image", "")).startswith("redis:7")}


def test_compose_redis_has_appendonly_password_healthcheck_and_volume():
    project = df.compose_project()
    redis = project["services"]["redis"]
    command = _redis_commands(project)["redis"]
    assert "--appendonly yes" in command and '--requirepass "$$REDIS_ADMIN_PASSWORD"' in command
    assert "healthcheck" in redis and any(v.startswith("redis-data:/data") for v in redis["volumes"])
    assert "redis-data" in project["volumes"]
    assert project["services"]["app"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_cluster_mirrors_the_local_cluster_with_replicas(tmp_path):
    project = df.compose_project("cluster")
    commands = _redis_commands(project)
    nodes = sorted(name for name, command in commands.items() if "--cluster-enabled yes" in command)
    (init,) = [name for name, command in commands.items() if "--cluster create" in command]
    replicas = int(re.search(r"--cluster-replicas (\d+)", commands[init]).group(1))
    local = LocalCluster(tmp_path, replicas=1)  # the reliability tests' "3 masters + 3 replicas"
    assert len(nodes) == local.masters * (1 + local.replicas) == 6
    assert replicas == local.replicas and len(nodes) // (1 + replicas) == local.masters == 3
    assert project["services"][init].get("restart") == "no"
    for node in nodes:
        assert f"redis-node-{node[-1]}" in commands[init]  # every node joins
    app_env = df.compose_environment(project["services"]["app"])
    assert app_env["REDIS_MODE"] == "cluster"
    seeds = app_env["REDIS_CLUSTER_NODES"].split(",")
    assert all(seed.split(":")[0] in nodes for seed in seeds)
    assert project["services"]["app"]["depends_on"][init]["condition"] == "service_completed_successfully"


def test_compose_sentinel_mirrors_the_local_sentinel_set_up(tmp_path):
    """1 primary, 1 replica, 3 sentinels with quorum 2: what devservers' LocalSentinel spawns."""
    local = LocalSentinel(tmp_path)
    local_config = (tmp_path / "s" / "sentinel.conf")
    (tmp_path / "s").mkdir()
    _SentinelProcess(tmp_path / "s", "svc", 6379).command()
    local_quorum = int(re.search(r"sentinel monitor svc \S+ 6379 (\d+)", local_config.read_text()).group(1))
    project = df.compose_project("sentinel")
    commands = _redis_commands(project)
    data_nodes = {n: c for n, c in commands.items() if "exec redis-server" in c and n != "redis"}
    sentinels = {n: c for n, c in commands.items() if "redis-sentinel" in c}
    replicas = [n for n, c in data_nodes.items() if "--replicaof" in c]
    primaries = [n for n, c in data_nodes.items() if "--replicaof" not in c]
    counts = (len(primaries), len(replicas), len(sentinels))
    assert counts == (1, local.replica_count, local.sentinel_count) == (1, 1, 3)
    assert f"--replicaof {primaries[0]} 6379" in data_nodes[replicas[0]]
    app_env = df.compose_environment(project["services"]["app"])
    for command in sentinels.values():
        monitor = re.search(r"sentinel monitor (\S+) (\S+) 6379 (\d+)", command)
        assert monitor.group(1) == app_env["REDIS_SENTINEL_SERVICE"] and monitor.group(2) == primaries[0]
        assert int(monitor.group(3)) == local_quorum == len(sentinels) // 2 + 1  # a majority
    assert sorted(a.split(":")[0] for a in app_env["REDIS_SENTINELS"].split(",")) == sorted(sentinels)
    for name in data_nodes:  # failover: each may become primary or replica, and the app's user exists on both
        assert "--masterauth" in data_nodes[name] and "--user winkr on" in data_nodes[name]


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((df.ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "db.sqlite3", ".redis"} <= ignored
    for needed in ("pyproject.toml", "manage.py", "docker/entrypoint.sh", "winkr", "caching_app"):
        assert needed not in ignored
