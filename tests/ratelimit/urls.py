"""Small views exercising the throttles (the real login endpoint lives in sessions_app)."""

from django.urls import include, path
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ratelimit_app.throttling import AnonRateThrottle, LoginRateThrottle, ScopedRateThrottle


class ScopedView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "tests"

    def get(self, request):
        return Response({"ok": True})


class BurstView(ScopedView):
    throttle_scope = "burst"


class TwoLimitsView(ScopedView):
    """Two scopes of different sizes on one request: the client's anon limit and the view's own."""

    throttle_classes = [AnonRateThrottle, ScopedRateThrottle]


class DefaultThrottlesView(APIView):
    """Uses REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] (the project's settings)."""

    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class LoginView(APIView):
    """Stands in for POST /api/auth/token/: password "right" succeeds, anything else fails."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]
    checked: list[str] = []  # passwords that reached the check, to prove the slot is taken first

    def post(self, request):
        LoginView.checked.append(request.data.get("password"))
        if request.data.get("password") != "right":
            return Response({"detail": "Bad credentials.", "code": "bad_credentials"},
                            status=status.HTTP_401_UNAUTHORIZED)
        LoginRateThrottle.release(request)
        return Response({"token": "t"})


urlpatterns = [
    path("scoped/", ScopedView.as_view()),
    path("burst/", BurstView.as_view()),
    path("default/", DefaultThrottlesView.as_view()),
    path("both/", TwoLimitsView.as_view()),
    path("login/", LoginView.as_view()),
    path("api/", include("ratelimit_app.urls")),
]
