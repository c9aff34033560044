"""Request bodies of the auth endpoints (validation only; the views do the work)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from sessions_app import usernames

DEVICE_FIELDS = ("device_id", "device_type", "os", "browser", "location")


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=4096)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate_username(self, value: str) -> str:
        model = get_user_model()
        field = model._meta.get_field(model.USERNAME_FIELD)
        for validator in field.validators:
            try:
                validator(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(list(exc.messages)) from exc
        if usernames.looks_like_another_script(value):
            raise serializers.ValidationError(
                "This username mixes scripts with letters that look like another script's; use one script.",
                code="confusable")
        if usernames.is_taken(value):
            raise serializers.ValidationError("A user with that username already exists.", code="unique")
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

    device_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    device_type = serializers.CharField(max_length=50, required=False, allow_blank=True)
    os = serializers.CharField(max_length=100, required=False, allow_blank=True)
    browser = serializers.CharField(max_length=100, required=False, allow_blank=True)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=4096)
    device = LoginDeviceSerializer(required=False)


class TokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192)


class TokenPairSerializer(serializers.Serializer):
    """Response of ``token/`` (documentation only)."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    session_id = serializers.CharField()
