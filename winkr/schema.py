"""The project's OpenAPI generator: drf-spectacular's AutoSchema plus the error answers every view can give.

drf-spectacular documents only the success codes a view declares, so the 400/401/403/404/429/503 answers
that DRF, simplejwt, the throttles and the Redis boundary produce were missing from /api/schema/ and a
generated client (or schemathesis) treated them as contract violations. They are added here once, in
one place, instead of on every ``@extend_schema``; a view that declares one of these codes keeps its own.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from ratelimit_app.headers import PROBLEM_JSON

ERROR_COMPONENT = "APIError"
# Every error body is a JSON object: {"detail", "code"} from our views and simplejwt, or DRF's validation
# errors {"<field>": ["..."]}; so only the type is fixed and the usual members are described.
ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: usually {detail, code}; validation errors map each field to its messages.",
    "properties": {
        "detail": {"description": "What is wrong, for a person."},
        "code": {"type": "string", "description": "A stable code for programs."},
        "retry_after": {"type": "number", "description": "Seconds to wait (rate limits)."},
    },
    "additionalProperties": True,
}
QUOTA_COMPONENT = "QuotaExceeded"
# A 429: draft-ietf-httpapi-ratelimit-headers-11's quota-exceeded problem (RFC 9457), ratelimit_app.exceptions.
QUOTA_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem, type quota-exceeded, plus the error's code.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "violated-policies": {"type": "array", "items": {"type": "string"},
                              "description": "The RateLimit-Policy names whose quota was exceeded."},
        "code": {"type": "string"},
        "scope": {"type": "string"},
        "rate": {"type": "string"},
        "retry_after": {"type": "integer"},
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "Invalid input; the body says which field and why.",
    "401": "Missing, invalid, expired or revoked credentials.",
    "403": "Not allowed (or not authenticated, without a bearer token).",
    "404": "No such resource, or not yours.",
    "429": "Rate limited; see Retry-After.",
    "503": "Redis is unavailable; retry shortly (see Retry-After).",
}


# What DRF's CharField refuses beyond its lengths, as JSON Schema patterns (request bodies only): a NUL
# character (ProhibitNullCharactersValidator) and, unless blank is allowed, a value that is blank once
# trimmed. Without them a schema-valid "   " or "a\x00" gets a 400 and the schema lies about its limits.
NO_NUL = "^[^\\x00]*$"
NOT_BLANK_NO_NUL = "^[^\\x00]*[^\\x00\\s][^\\x00]*$"


def text_pattern(field: serializers.CharField) -> str:
    """The pattern a request string must match to pass ``field``'s blank and NUL checks."""
    if field.allow_blank or not field.trim_whitespace:
        return NO_NUL  # an untrimmed field accepts "   "; minLength (drf-spectacular) refuses ""
    return NOT_BLANK_NO_NUL


class WinkrAutoSchema(AutoSchema):
    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField) and not field.read_only
                and schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema)
                and not any(isinstance(v, RegexValidator) for v in field.validators)):  # its own pattern wins
            schema["pattern"] = text_pattern(field)
        if direction == "request" and callable(getattr(field, "schema_pattern", None)):
            schema["pattern"] = field.schema_pattern()  # a field that knows its own limits (winkr.demo)
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for name, schema in ((ERROR_COMPONENT, ERROR_SCHEMA), (QUOTA_COMPONENT, QUOTA_SCHEMA)):
            self.registry.register_on_missing(ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema))
        parameters = operation.get("parameters", [])
        codes = ["401", "429", "503"]
        if "requestBody" in operation or any(p.get("in") == "query" for p in parameters) \
                or any(p.get("in") == "path" for p in parameters):
            codes.append("400")
        if any(p.get("in") == "path" for p in parameters):
            codes.append("404")
        if operation.get("security") and {} not in operation["security"]:
            codes.append("403")
        responses = operation.setdefault("responses", {})
        for code in sorted(codes):
            responses.setdefault(code, {"description": DESCRIPTIONS[code]})
        # The throttles' 429 is a problem document; a view's own limit (realtime's chat limit) answers JSON.
        responses["429"].setdefault("content", {
            PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{QUOTA_COMPONENT}"}},
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}})
        error_body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
        for code, response in responses.items():
            if code[0] in "45" and not response.get("content"):  # every error has a JSON body
                response["content"] = error_body
        return operation
