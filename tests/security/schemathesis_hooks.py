"""Hooks of the schemathesis run (test_schemathesis.py): the one registration rule /api/schema/ cannot state.

The schema states what it can of AUTH_PASSWORD_VALIDATORS (minimum length, not only digits). JSON Schema
cannot relate two fields, nor list Django's 20,000 common passwords: a generated registration whose
password is too similar to its username or email, or a common one, is dropped here with Django's own
validators instead of being counted as a schema-valid request refused. Every other body is kept.
"""

from __future__ import annotations

import os

import django
import schemathesis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.contrib.auth import get_user_model, password_validation  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402


@schemathesis.hook("filter_body").apply_to(method="POST", path="/api/auth/register/")
def passes_the_password_policy(context, body) -> bool:
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("username", "password")):
        return True  # not a registration the policy could refuse: keep it
    email = body.get("email") if isinstance(body.get("email"), str) else ""
    user = get_user_model()(username=body["username"], email=email)
    try:
        password_validation.validate_password(body["password"], user)
    except ValidationError:
        return False
    return True
