"""The project's OpenAPI generator: drf-spectacular's AutoSchema plus the error answers every view can give.

drf-spectacular documents only the success codes a view declares, so the 400/401/403/404/429/503 answers
that DRF, simplejwt, the throttles and the Redis boundary produce were missing from /api/schema/ and a
generated client (or schemathesis) treated them as contract violations. They are added here once, in
one place, instead of on every ``@extend_schema``; a view that declares one of these codes keeps its own.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

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
DESCRIPTIONS = {
    "400": "Invalid input; the body says which field and why.",
    "401": "Missing, invalid, expired or revoked credentials.",
    "403": "Not allowed (or not authenticated, without a bearer token).",
    "404": "No such resource, or not yours.",
    "429": "Rate limited; see Retry-After.",
    "503": "Redis is unavailable; retry shortly (see Retry-After).",
}


class WinkrAutoSchema(AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        self.registry.register_on_missing(ResolvedComponent(
            name=ERROR_COMPONENT, type=ResolvedComponent.SCHEMA, object=ERROR_COMPONENT, schema=ERROR_SCHEMA))
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
            responses.setdefault(code, {
                "description": DESCRIPTIONS[code],
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
            })
        return operation
