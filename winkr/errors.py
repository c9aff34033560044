"""Project error handlers: JSON for the API, so a URL that does not resolve is not an HTML page.

``/api/profiles/abc/`` fails the URL converter before any DRF view runs, and Django's default
handlers answer with HTML; API clients get the same ``{"detail", "code"}`` body as DRF's errors.

Unknown ``/api/`` paths are answered by :func:`api_not_found`, a catch-all route placed last under
``api/`` in ``winkr.urls``, rather than by ``handler404`` alone: Django skips ``handler404`` when
DEBUG is on (it renders its technical HTML page instead), and a route is resolved the same way
with DEBUG on or off, needs no middleware ordering and never rewrites another view's response.
It also stops CommonMiddleware's APPEND_SLASH redirect under ``/api/`` (a redirected POST loses its
body, and with DEBUG on it is a 500): API clients get a 404 naming the canonical URL instead.
``handler404`` still covers an ``Http404`` raised by a non-DRF view under ``/api/`` (DEBUG off).
405 needs nothing here: every ``/api/`` route is a DRF view, which answers 405 in JSON with ``Allow``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, ResolverMatch, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # nothing to protect, and the CSRF check would answer an unknown POST with an HTML 403
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """404 JSON for any method on a path under ``/api/`` that no API route matches."""
    body = {"detail": "Not found.", "code": "not_found"}
    if not request.path.endswith("/"):
        with_slash = f"{request.path}/"
        match = _resolve(with_slash)
        if match is not None and match.func is not api_not_found:
            body["detail"] = f"Not found. API URLs end with a slash: {with_slash}"
    return JsonResponse(body, status=404)


def _resolve(path: str) -> ResolverMatch | None:
    try:
        return resolve(path)
    except Resolver404:
        return None


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
