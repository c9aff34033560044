"""A tiny URLconf for the authentication tests: one DRF view and one plain Django view."""

from django.http import JsonResponse
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    def get(self, request):
        return Response({"id": request.user.pk, "username": request.user.get_username()})


def plain_view(request):
    return JsonResponse({"ok": True})


class Public(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        return Response({"public": True})


urlpatterns = [
    path("whoami/", WhoAmI.as_view()),
    path("plain/", plain_view),
    path("public/", Public.as_view()),
    path("api/auth/", include("sessions_app.jwt.urls")),
]
