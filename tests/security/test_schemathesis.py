"""Property-based API testing: schemathesis ``--checks all`` against the served /api/schema/.

The schemathesis CLI (every phase: examples, coverage, fuzzing, stateful) runs in a subprocess
against the project served by pytest-django's live server (real HTTP, the test database, the
suite's Redis), authenticated with a real JWT, so the protected endpoints are exercised and not
just their 401. Every check must pass: no 5xx, every status, content type, header and body as
documented, schema-valid input accepted and invalid input refused, 401 without credentials.

One test, one run: what it asserts does not depend on which other tests ran before it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from .conftest import bearer_for

ROOT = Path(__file__).resolve().parents[2]

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
EXAMPLES_PER_OPERATION = 80
# Operations the run cannot exercise, by operationId. Each ends the device session whose token
# authenticates every other request of the run: once one answers 2xx, every later request is a 401.
# tests/jwt/test_endpoints.py and tests/sessions/test_api.py cover them.
EXCLUDED = {
    "api_auth_logout_create": "ends the run's own device session",
    "api_auth_logout_all_create": "ends every session of the run's user",
    "api_sessions_destroy": "the stateful phase deletes the ids GET /api/sessions/ lists: the run's own session",
}
# Operations whose 2xx needs an existing other user: their user_id is pinned to bob (other operations
# with a user_id, e.g. GET chat history, keep fuzzing it).
PINNED_TO_BOB = ("api_chat_messages_create", "api_users_presence_retrieve")


def project_schema() -> dict:
    """The document /api/schema/ serves, built without a request."""
    generator = SchemaGenerator()
    return json.loads(json.dumps(generator.get_schema(request=None, public=True), cls=DjangoJSONEncoder))


def test_served_schema_is_the_one_generated(people, generous_rates):
    served = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert served.json() == project_schema()


def test_excluded_operations_exist():
    """An exclusion must name a real operation (a renamed one would silently re-enable nothing)."""
    assert set(EXCLUDED) | set(PINNED_TO_BOB) <= project_schema_operations()


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.django_db(transaction=True)
def test_schemathesis_all_checks(live_server, people, generous_rates, tmp_path):
    config = tmp_path / "schemathesis.toml"
    bob = people["bob"].pk
    config.write_text("".join(f'[[operations]]\ninclude-operation-id = "{operation_id}"\n'
                              f'parameters = {{ "path.user_id" = {bob} }}\n' for operation_id in PINNED_TO_BOB))
    report = tmp_path / "report.json"
    command = [
        SCHEMATHESIS, "--config-file", str(config), "run", f"{live_server.url}/api/schema/",
        "--checks", "all",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--generation-deterministic",  # the same cases on every run: a failure reproduces
        "--workers", "1", "--no-color", "--continue-on-failure",
        "--header", f"Authorization: Bearer {bearer_for(people['alice'])}",
        "--report", "json", "--report-json-path", str(report),
    ]
    for operation_id in EXCLUDED:
        command += ["--exclude-operation-id", operation_id]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=880, cwd=tmp_path, env=env)
    print(result.stdout[-8000:], result.stderr[-3000:])
    assert result.returncode == 0, "schemathesis found failures (output above)"
    summary = json.loads(report.read_text())
    assert summary["failures"] == [] and summary["errors"] == []
    operations = summary["operations"]
    assert operations["total"] == len(project_schema_operations())
    assert operations["tested"] == operations["selected"] == operations["total"] - len(EXCLUDED), operations
    print(f"schemathesis: {summary['test_cases']['generated']} cases over {operations['tested']} operations")


def project_schema_operations() -> set[str]:
    return {op["operationId"] for item in project_schema()["paths"].values() for op in item.values()}
