"""Request bodies of the auth endpoints (validation only; the views do the work)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from caching_app.drf import StrictCharField
from sessions_app import usernames


def min_password_length() -> int:
    """The length AUTH_PASSWORD_VALIDATORS require (0 if none does), stated in the API schema."""
    return max((getattr(v, "min_length", 0) for v in password_validation.get_default_password_validators()
                if isinstance(v, password_validation.MinimumLengthValidator)), default=0)


# NumericPasswordValidator as a pattern the schema can state (with ProhibitNullCharactersValidator's NUL).
NOT_ONLY_DIGITS = RegexValidator(r"^[^\x00]*[^\x00\d][^\x00]*\Z", message=_("This password is entirely numeric."),
                                 code="password_entirely_numeric")

DEVICE_FIELDS = ("device_id", "device_type", "os", "browser", "location")


class RegisterSerializer(serializers.Serializer):
    """The user model's own username validators are attached to the field (so the schema states the
    pattern) and password length comes from AUTH_PASSWORD_VALIDATORS; a taken name is the view's 409."""

    username = StrictCharField(max_length=150)
    password = StrictCharField(write_only=True, trim_whitespace=False, max_length=4096)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        model = get_user_model()
        username_field = model._meta.get_field(model.USERNAME_FIELD)
        if isinstance(username_field, models.Field):
            fields["username"].validators.extend(username_field.validators)
        minimum = min_password_length()
        password = fields["password"]
        if minimum and isinstance(password, serializers.CharField):
            password.min_length = minimum
            fields["password"].validators.append(MinLengthValidator(minimum))
        if any(isinstance(v, password_validation.NumericPasswordValidator)
               for v in password_validation.get_default_password_validators()):
            fields["password"].validators.append(NOT_ONLY_DIGITS)
        return fields

    def validate_username(self, value: str) -> str:
        if usernames.looks_like_another_script(value):
            msg = "This username mixes scripts with letters that look like another script's; use one script."
            raise serializers.ValidationError(
                msg,
                code="confusable")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model = get_user_model()
        candidate = model(**{model.USERNAME_FIELD: attrs["username"]}, email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class LoginDeviceSerializer(serializers.Serializer):
    """The optional ``device`` object of a login (its own schema component: the session list has ``Device``)."""

    device_id = StrictCharField(max_length=200, required=False, allow_blank=True)
    device_type = StrictCharField(max_length=50, required=False, allow_blank=True)
    os = StrictCharField(max_length=100, required=False, allow_blank=True)
    browser = StrictCharField(max_length=100, required=False, allow_blank=True)
    location = StrictCharField(max_length=200, required=False, allow_blank=True)


class TokenObtainSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(write_only=True, trim_whitespace=False, max_length=4096)
    device = LoginDeviceSerializer(required=False)


class TokenRefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=8192)


class TokenPairSerializer(serializers.Serializer):
    """Response of ``token/`` (documentation only)."""

    access = StrictCharField()
    refresh = StrictCharField()
    session_id = StrictCharField()
