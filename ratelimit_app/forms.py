"""The API's failed-login policy on Django's own password forms (the admin login, password change).

:class:`~ratelimit_app.throttling.LoginRateThrottle` is the one implementation: per client IP +
username, a slot taken before the password is checked, given back when the password was right,
429 when the limit is reached. :func:`throttle_password_form` applies it to any Django view that
posts a password form, which answers with a redirect when it accepted the password (the admin's
login and password change do; so does ``django.contrib.auth.views.LoginView``). Use the admin site
below (``ratelimit_app.admin_config.ThrottledAdminConfig`` in ``INSTALLED_APPS`` instead of
``django.contrib.admin``) or
wrap your own views.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import APIException

from .identity import login_username
from .throttling import LoginRateThrottle

ACCEPTED = (301, 302, 303)


class _FormLoginThrottle(LoginRateThrottle):
    """The login throttle, told the username instead of reading it from a DRF request's data."""

    def __init__(self, username: Any):
        super().__init__()
        self.username = username

    def get_username(self, request: Any) -> str:
        return login_username(self.username)


def _posted_username(request: HttpRequest) -> Any:
    from .conf import ratelimit_settings

    return request.POST.get(ratelimit_settings.LOGIN_USERNAME_FIELD, "")


def _refusal(exc: APIException) -> JsonResponse:
    detail: dict[str, Any] = {"detail": str(exc.detail), "code": exc.default_code}
    if isinstance(exc.detail, dict):
        detail = dict(exc.detail)
    response = JsonResponse(detail, status=exc.status_code, json_dumps_params={"default": str})
    wait = getattr(exc, "wait", None)
    if wait:
        response["Retry-After"] = str(int(wait))
    return response


def throttle_password_form(view: Callable[..., HttpResponse],
                           username_of: Callable[[HttpRequest], Any] = _posted_username) -> Callable[..., HttpResponse]:
    """Wrap a password-form view: each POST is a login attempt for ``username_of(request)``."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        throttle = _FormLoginThrottle(username_of(request))
        try:
            throttle.allow_request(request, None)
        except APIException as exc:  # 429 over the limit, 400 an unusable username, 503 Redis down (fail closed)
            return _refusal(exc)
        response = view(request, *args, **kwargs)
        if response.status_code in ACCEPTED:  # the password was right: not a failed attempt
            LoginRateThrottle.release(request)
        return response

    return wrapped


def _own_username(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else ""


class ThrottledAdminSite(AdminSite):
    """The admin site with its two password forms (login, password change) under the login policy."""

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return throttle_password_form(super().login)(request, extra_context)

    # django-stubs says TemplateResponse; Django's own view also redirects (and we answer a JSON 429).
    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        # The old password is checked here: guesses count against the signed-in user's name.
        return throttle_password_form(super().password_change, _own_username)(request, extra_context)
