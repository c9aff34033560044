"""Readers for the deployment files under docker/: what the tests in this package check them against.

Docker cannot run on our machines, so these helpers read the files the way Compose, Kubernetes and
Docker would (YAML, Compose ``${VAR:-default}`` interpolation, Dockerfile instructions) and hand the
tests plain data: the app containers' environments, probe paths, commands.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
K8S = DOCKER / "k8s"
COMPOSE_BASE = DOCKER / "docker-compose.yml"
COMPOSE_OVERRIDES = {
    "cluster": DOCKER / "docker-compose.cluster.yml",
    "sentinel": DOCKER / "docker-compose.sentinel.yml",
}
DOCKERFILE = DOCKER / "Dockerfile"
ACL_FILE = DOCKER / "redis-acl.conf"
APP_SERVICE = "app"
APP_IMAGE = "winkr:latest"

ENV_READERS = {"env_str", "env_bool", "env_int", "env_duration", "env_list"}
# Read by Django itself (or daphne), not by winkr/settings.py.
FRAMEWORK_VARIABLES = {"DJANGO_SETTINGS_MODULE"}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def yaml_files() -> list[Path]:
    return sorted([*DOCKER.rglob("*.yml"), *DOCKER.rglob("*.yaml")])


def load_all(path: Path) -> list:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def settings_variables() -> set[str]:
    """Every environment variable winkr/settings.py reads, found in its source (no import, no side effects).

    Direct reader calls (``env_str("DJANGO_SECRET_KEY")``) and the ``pick("MODE", ...)`` calls of
    ``_redis_alias``, which read ``REDIS_<NAME>`` and, for the cache alias, ``REDIS_CACHE_<NAME>``.
    """
    tree = ast.parse((ROOT / "winkr" / "settings.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        if node.func.id in ENV_READERS:
            names.add(first.value)
        elif node.func.id == "pick":
            names.update({f"REDIS_{first.value}", f"REDIS_CACHE_{first.value}"})
    return names


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}`` (``$$`` is a literal ``$``)."""

    def substitute(match: re.Match) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        current = environ.get(name)
        if op in (":-", "-"):
            empty = current is None or (op == ":-" and current == "")
            return arg if empty else current
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            msg = f"{name}: {arg}"
            raise KeyError(msg)
        return current or ""

    parts = value.split("$$")
    return "$".join(_INTERPOLATION.sub(substitute, part) for part in parts)


def compose_project(override: str | None = None) -> dict:
    """The base Compose file merged with an override, as ``docker compose -f base -f override`` merges them."""
    project = load_all(COMPOSE_BASE)[0]
    if override:
        extra = load_all(COMPOSE_OVERRIDES[override])[0]
        for name, service in extra.get("services", {}).items():
            merged = project["services"].setdefault(name, {})
            for key, value in service.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
        project.setdefault("volumes", {}).update(extra.get("volumes") or {})
    return project


def compose_environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def k8s_documents() -> list[dict]:
    """Kubernetes objects (the kustomization.yaml, which has no metadata, is not one)."""
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_all(path) if "metadata" in doc]


def k8s_app_containers() -> list[tuple[str, dict]]:
    """(workload name, container) of every container running the app image."""
    found = []
    for doc in k8s_documents():
        spec = doc.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
            if container.get("image") == APP_IMAGE:
                found.append((doc["metadata"]["name"], container))
    return found


def k8s_container_environment(container: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps/Secrets, then env with $(VAR)."""
    objects = {(doc["kind"], doc["metadata"]["name"]): doc for doc in k8s_documents()}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
        if "secretRef" in source:
            env.update(objects[("Secret", source["secretRef"]["name"])]["stringData"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)),
                                       str(item["value"]))
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = objects[("Secret", ref["name"])]["stringData"][ref["key"]]
    return env


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in text.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def exec_form(arguments: str) -> list[str]:
    """A JSON exec-form (``["a", "b"]``) or shell-form instruction argument as a list."""
    arguments = arguments.strip()
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def acl_rules(path: Path = ACL_FILE) -> list[str]:
    """The ACL rules of the ``winkr`` user: one per line, ``#`` lines and blank lines skipped."""
    rules = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            rules.extend(stripped.split())
    return rules


def probe_paths(text: str) -> set[str]:
    return set(re.findall(r"/health(?:/[a-z_]+)?", text))
