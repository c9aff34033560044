"""The deployment files against the real schemas: every Kubernetes manifest against the Kubernetes API's
OpenAPI schemas (kubernetes-validate, offline schemas in the wheel), every Compose file, and each merged
topology, against the Compose Specification's JSON schema (shipped by check-jsonschema)."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from . import deployfiles as df

kubernetes_validate = pytest.importorskip("kubernetes_validate")
# The oldest Kubernetes minor we state support for, and the newest the installed schemas know.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
NOT_API_KINDS = {"Kustomization"}  # kustomize's own file, not an API object


def k8s_documents() -> list[tuple[str, dict]]:
    return [(f"{path.name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name', '')}", doc)
            for path in sorted(df.K8S.glob("*.yaml")) for doc in df.load_all(path)
            if doc.get("kind") not in NOT_API_KINDS]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("where", "document"), k8s_documents(), ids=[w for w, _ in k8s_documents()])
def test_kubernetes_manifest_matches_the_api_schema(where, document, version):
    try:
        kubernetes_validate.validate(document, version, strict=True)  # strict: unknown fields are errors too
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{where} against Kubernetes {version}: {error.message} at {list(error.path)}")


def test_every_kubernetes_manifest_was_validated():
    kinds = {document["kind"] for _, document in k8s_documents()}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "StatefulSet", "Job"} <= kinds


def test_the_validator_rejects_a_broken_manifest():
    deployment = next(doc for _, doc in k8s_documents() if doc["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


@pytest.fixture(scope="module")
def compose_validator():
    pytest.importorskip("check_jsonschema")
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
                        .read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def compose_errors(validator, data: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("path", [df.COMPOSE_BASE, *df.COMPOSE_OVERRIDES.values()], ids=lambda p: p.name)
def test_compose_file_matches_the_compose_spec(compose_validator, path):
    assert not compose_errors(compose_validator, df.load_all(path)[0])


@pytest.mark.parametrize("topology", [None, *df.COMPOSE_OVERRIDES])
def test_merged_compose_project_matches_the_compose_spec(compose_validator, topology):
    assert not compose_errors(compose_validator, df.compose_project(topology))


def test_the_compose_schema_rejects_a_broken_file(compose_validator):
    project = df.compose_project()
    project["services"]["app"]["ports"] = {"8000": "8000"}
    project["services"]["app"]["restart_policy"] = "always"
    assert len(compose_errors(compose_validator, project)) >= 2
