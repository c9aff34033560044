"""System checks of ``WINKR_JWT`` and of the settings JWT revocation relies on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from caching_app.foundation.checks import unknown_alias_errors, unknown_key_errors

from .conf import jwt_settings

AUTH_CLASS = "sessions_app.jwt.authentication.RedisJWTAuthentication"
MIDDLEWARE = "sessions_app.jwt.middleware.JWTRevocationMiddleware"


@register()
def check_jwt_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = unknown_alias_errors("WINKR_JWT['ALIAS']", jwt_settings.ALIAS, "winkr_jwt.E005")
    errors += unknown_key_errors(jwt_settings, "winkr_jwt.E001")
    for key in ("USER_CACHE_TTL", "USER_CACHE_TOMBSTONE_TTL", "MAX_TOKEN_BYTES"):
        value = getattr(jwt_settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "USER_CACHE_TTL" else 1):
            errors.append(Error(f"WINKR_JWT[{key!r}] must be a whole number of "
                                f"{'bytes' if key == 'MAX_TOKEN_BYTES' else 'seconds'} (got {value!r}).",
                                id="winkr_jwt.E002"))
    size = jwt_settings.VERIFIED_TOKEN_CACHE_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        errors.append(Error(f"WINKR_JWT['VERIFIED_TOKEN_CACHE_SIZE'] must be a whole number of tokens, 0 for off "
                            f"(got {size!r}).", id="winkr_jwt.E002"))
    errors.extend(_pipelined_check_errors())
    if not isinstance(jwt_settings.FAIL_OPEN, bool):
        errors.append(Error("WINKR_JWT['FAIL_OPEN'] must be True or False.", id="winkr_jwt.E003"))
    try:
        jwt_settings.LOGIN_THROTTLE_CLASSES  # noqa: B018 - importing its dotted paths is the check
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="winkr_jwt.E004"))
    if "rest_framework_simplejwt.token_blacklist" in settings.INSTALLED_APPS:
        errors.append(Warning(
            "rest_framework_simplejwt.token_blacklist is installed: its SQL blacklist runs beside the Redis one "
            "on every refresh.", hint="Remove it from INSTALLED_APPS (see the README, 'JWT logout').",
            id="winkr_jwt.W001"))
    auth_classes = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_AUTHENTICATION_CLASSES", [])
    if "rest_framework_simplejwt.authentication.JWTAuthentication" in auth_classes:
        errors.append(Warning(
            "simplejwt's JWTAuthentication ignores revoked tokens.",
            hint=f"Use {AUTH_CLASS} in REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'].", id="winkr_jwt.W002"))
    return errors


def _pipelined_check_errors() -> list:
    try:
        factories = jwt_settings.PIPELINED_CHECKS
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="winkr_jwt.E006")]
    if not isinstance(factories, list | tuple):
        return [Error("WINKR_JWT['PIPELINED_CHECKS'] must be a list of dotted paths.", id="winkr_jwt.E006")]
    return [Error(f"WINKR_JWT['PIPELINED_CHECKS']: {factory!r} is not callable.", id="winkr_jwt.E006")
            for factory in factories if not callable(factory)]
