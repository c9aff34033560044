"""Property-based API testing: every operation of /api/schema/ fed generated (valid and invalid) input.

Runs in-process through the project's WSGI application, authenticated with a real JWT, so the
protected endpoints are exercised, not just their 401. Every response must be a non-5xx answer that
the schema documents (status code, content type, headers and body).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from winkr.wsgi import application

from .conftest import bearer_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
EXAMPLES_PER_OPERATION = 40
# Endpoints that end the caller's sessions get a fresh token per call, so the shared one stays valid.
SESSION_ENDING = ("/api/auth/logout/", "/api/auth/logout-all/")
STATS = {"calls": 0, "operations": set(), "statuses": {}}


@pytest.fixture
def alice_token(people):
    return bearer_for(people["alice"])




def project_schema() -> dict:
    """The document /api/schema/ serves, built without a request (collection runs before any Redis exists)."""
    generator = SchemaGenerator()
    return json.loads(json.dumps(generator.get_schema(request=None, public=True), cls=DjangoJSONEncoder))


schema = schemathesis.openapi.from_dict(project_schema())
schema.app = application


def test_served_schema_is_the_one_tested(people, generous_rates):
    served = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert served.json() == project_schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_answers_within_its_schema(case, people, alice_token, generous_rates):
    token = bearer_for(people["mallory"]) if case.path in SESSION_ENDING else alice_token
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    STATS["calls"] += 1
    STATS["operations"].add(f"{case.operation.method.upper()} {case.operation.path}")
    STATS["statuses"][response.status_code] = STATS["statuses"].get(response.status_code, 0) + 1
    case.validate_response(response, checks=CHECKS)


def test_every_operation_was_exercised():
    """Runs after the parametrized test (file order): every documented operation got requests."""
    operations = {f"{method.upper()} {path}" for path, item in project_schema()["paths"].items() for method in item}
    if not STATS["operations"]:
        pytest.skip("run together with test_api_answers_within_its_schema")
    assert operations <= STATS["operations"]
    print(f"\nschemathesis: {STATS['calls']} requests over {len(operations)} operations; statuses {STATS['statuses']}")
