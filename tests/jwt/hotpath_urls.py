"""The project's URLs plus views for the hot-path tests: the project's default throttles, a view that refuses
every user after authentication (its prefetched throttle slot must be given back), and a session writer."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from winkr.urls import urlpatterns as project_urlpatterns


class Throttled(APIView):
    """The project's defaults: JWT first, IsAuthenticated, the anon/user/scoped throttles."""

    def get(self, request):
        return Response({"id": request.user.pk})


class AdminOnly(Throttled):
    permission_classes = [IsAdminUser]


class PlainSimpleJWT(Throttled):
    """simplejwt's own class: DRF never asks Redis, so the middleware must check the token itself."""

    authentication_classes = [JWTAuthentication]


def write_session(request):
    request.session["seen"] = True
    return JsonResponse({"ok": True})


urlpatterns = [
    path("t/throttled/", Throttled.as_view()),
    path("t/admin/", AdminOnly.as_view()),
    path("t/plain-simplejwt/", PlainSimpleJWT.as_view()),
    path("t/session/", write_session),
    *project_urlpatterns,
]
