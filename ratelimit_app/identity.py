"""Who a login attempt is counted against: the username, bounded and canonical.

The login throttle runs before the view's serializer, so it is the first code to see the
username and must validate it itself: a 2.4 MB username used to become a limiter key (and a
memo entry) before any length check. Anything longer than the user model's username field
is refused with a 400 here; what is kept is the comparison form
(:func:`caching_app.foundation.inputs.text_key`), so ``ＣＡＲＯＬ`` and ``carol`` share one counter.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError

from caching_app.foundation.inputs import is_encodable, text_key, unencodable_message

from .conf import ratelimit_settings

DEFAULT_MAX_LENGTH = 150  # django.contrib.auth's username field


def username_max_length() -> int:
    """``WINKR_RATELIMIT["LOGIN_USERNAME_MAX_LENGTH"]``, else the user model's username field's max_length."""
    configured = ratelimit_settings.LOGIN_USERNAME_MAX_LENGTH
    if configured:
        return int(configured)
    from django.contrib.auth import get_user_model

    model = get_user_model()
    length = getattr(model._meta.get_field(model.USERNAME_FIELD), "max_length", None)
    return int(length or DEFAULT_MAX_LENGTH)


def login_username(value: Any) -> str:
    """The canonical username a login attempt is counted under; ValidationError (400) if unusable."""
    field = ratelimit_settings.LOGIN_USERNAME_FIELD
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # as DRF's CharField reads it
    if not isinstance(value, str):
        raise ValidationError({field: ["Not a valid string."]}, code="invalid")
    limit = username_max_length()
    if len(value) > limit:
        raise ValidationError({field: [f"Ensure this field has no more than {limit} characters."]},
                              code="max_length")
    if not is_encodable(value):
        raise ValidationError({field: [unencodable_message("This field")]}, code="invalid_text")
    return text_key(value.strip())
