"""Views for tests/jwt/test_async_views.py: caching_app.async_views.AsyncAPIView with the project's checks, and
with checks of the kinds it must run in a thread (a sync authenticator, a custom permission and throttle hook)."""

import threading

from django.urls import path
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from caching_app.async_views import AsyncAPIView
from ratelimit_app.throttling import UserRateThrottle

from .hotpath_urls import urlpatterns as hotpath_urlpatterns

#: Where each piece ran: name -> thread id (the tests compare them with the event loop's thread).
RAN_IN: dict[str, int] = {}


def ran(name: str) -> None:
    RAN_IN[name] = threading.get_ident()


class ProjectChecks(AsyncAPIView):
    """The project's defaults: JWT first, IsAuthenticated, the anon/user/scoped throttles."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]

    async def get(self, request):
        ran("handler")
        return Response({"id": request.user.pk})

    async def post(self, request):
        return Response({"posted": request.data}, status=201)


class HeaderAuthentication(BaseAuthentication):
    """A sync authenticator with no async twin: a user named by a header."""

    def authenticate(self, request):
        from django.contrib.auth import get_user_model

        ran("sync_authenticator")
        name = request.META.get("HTTP_X_USER")
        return (get_user_model().objects.get(username=name), None) if name else None


class NamedBob(BasePermission):
    message = "Only bob."

    def has_permission(self, request, view):
        ran("permission")
        return request.user.username == "bob"


class CountingThrottle(UserRateThrottle):
    """A hook of its own: it could do I/O, so it runs in a thread."""

    def get_rate_key(self, request, view):
        ran("custom_throttle")
        return super().get_rate_key(request, view)


class SyncChecks(AsyncAPIView):
    authentication_classes = [HeaderAuthentication]
    permission_classes = [NamedBob]
    throttle_classes = [CountingThrottle]

    async def get(self, request):
        return Response({"user": request.user.username})


urlpatterns = [
    path("a/project/", ProjectChecks.as_view()),
    path("a/sync-checks/", SyncChecks.as_view()),
    *hotpath_urlpatterns,
]
