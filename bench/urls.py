"""The project's URLs plus the load test's baseline: a bare DRF APIView (no auth, no throttles, no Redis)."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from winkr.urls import urlpatterns as project_urlpatterns


class BareView(APIView):
    """What a DRF view costs under daphne with none of winkr's work: the denominator of the load ratio."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [path("bench/bare/", BareView.as_view(), name="bench-bare"), *project_urlpatterns]
