from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from winkr.errors import api_not_found

from . import pages

urlpatterns = [
    path("", pages.landing, name="landing"),
    # The API's most requested routes first: Django tries patterns in order, and an include("...") under
    # "api/" tries every route inside it (the cached profile GET resolved in 20 µs when it came last).
    path("api/", include("winkr.demo.urls")),
    path("api/auth/", include("sessions_app.jwt.urls")),
    path("api/", include("sessions_app.urls")),
    path("api/", include("ratelimit_app.urls")),
    path("api/", include("realtime_app.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", pages.swagger_ui, name="api-docs"),
    path("api/redoc/", pages.redoc, name="api-redoc"),
    # Keep last among the api/ routes: any other /api/ path is a JSON 404, DEBUG on or off (winkr.errors).
    re_path(r"^api/(?P<path>.*)$", api_not_found, name="api-not-found"),
    path("demo/", pages.demo, name="demo"),
    path("admin/", admin.site.urls),
    path("health", include("health_app.urls")),
]

handler400 = "winkr.errors.bad_request"
handler404 = "winkr.errors.page_not_found"
handler500 = "winkr.errors.server_error"
