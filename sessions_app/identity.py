"""The canonical text of a user id: the one form every key, tag and group is built from.

A token signed with ``user_id: "01"`` named user 1 for the database (``int("01") == 1``) but
``01`` for every Redis key (revocation markers, device index, socket groups), so a cut-off
written for user ``1`` did not reach it. Any id coming from outside (a token claim, an admin
form, a command argument) passes through :func:`canonical_user_id` first; an id that is not
already in canonical form is refused rather than silently rewritten, since a client that sends
a non-canonical id is not one we issued it to.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import Field

MAX_USER_ID_LENGTH = 255


class InvalidUserId(ValueError):
    """Not the canonical form of an id of the user model's field."""


def canonical_user_id(value: object, field_name: str | None = None) -> str:
    """``str`` of ``value`` as the user model's field (default: the pk) would write it; raises InvalidUserId
    if ``value`` is not already that text (``"01"``, ``" 1"``, ``"1.0"``, ``True``) or not an id at all."""
    if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > MAX_USER_ID_LENGTH:
        msg = f"{value!r} is not a user id."
        raise InvalidUserId(msg)
    model = get_user_model()
    field = model._meta.get_field(field_name) if field_name else model._meta.pk
    if not isinstance(field, Field):  # a reverse relation or generic key holds no id
        msg = f"{field_name!r} is not a concrete field of the user model."
        raise ImproperlyConfigured(msg)
    text = str(value)
    try:
        python = field.to_python(text)
    except (ValidationError, ValueError, TypeError) as exc:
        msg = f"{text!r} is not a user id."
        raise InvalidUserId(msg) from exc
    if python is None or str(python) != text:
        msg = f"{text!r} is not the canonical form of a user id (that is {python!r})."
        raise InvalidUserId(msg)
    return text
