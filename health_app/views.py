"""Health endpoints: /health, /health/<component>, /health/liveness, /health/readiness, /health/metrics.

Liveness and readiness are open (Kubernetes probes send no credentials) and say no more than a
status per check. /health answers anonymous callers with the overall status only, so a load
balancer can use it; component details and metrics need a staff user or the health token.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .access import AnonymousOnFailure, HealthTokenAuthentication, IsStaffOrHealthToken
from .components.base import UNHEALTHY
from .metrics import metrics_snapshot, prometheus_text
from .renderers import PrometheusRenderer
from .runner import anonymous_status, check_names, health_report, readiness_status


def http_status(status: str) -> int:
    """200 while the service can serve (healthy or degraded), 503 when it cannot."""
    return 503 if status == UNHEALTHY else 200


@extend_schema(exclude=True)
class HealthAPIView(APIView):
    renderer_classes = [JSONRenderer]
    permission_classes = [IsStaffOrHealthToken]
    # Health must report on Redis, not be limited by a throttle that depends on it.
    throttle_classes: list = []
    # The health token, then the project's authenticators, whose refusals make the caller anonymous:
    # an expired or garbage token must not turn a probe into a 401. (No JWT class is listed here
    # directly, so the JWT middleware leaves these views to this list too.)
    authentication_classes = [HealthTokenAuthentication, AnonymousOnFailure]

    def may_see_details(self, request: Request) -> bool:
        return IsStaffOrHealthToken().has_permission(request, self)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.status_code >= 400 and getattr(response, "data", None) is not None and isinstance(
            response.data, dict
        ):
            # Errors are JSON whatever renderer the client asked for.
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class OverallHealthView(HealthAPIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        # Anonymous callers share one status per interval (a flood cannot exhaust the probes' pool);
        # staff and the health token get the details, computed for them.
        report = health_report() if self.may_see_details(request) else anonymous_status.get()
        return Response(report, status=http_status(report["status"]))


class ComponentHealthView(HealthAPIView):
    """/health/<name> for every component in WINKR_HEALTH["CHECKS"] (redis, cache, sessions, ...)."""

    def get(self, request: Request, component: str) -> Response:
        if component not in check_names():
            msg = f"No health component {component!r} is configured in WINKR_HEALTH['CHECKS']."
            raise Http404(msg)
        report = health_report([component])
        result = report["components"][component]
        body = {"component": component, "timestamp": report["timestamp"], **result}
        return Response(body, status=http_status(result["status"]))


class LivenessView(HealthAPIView):
    """Kubernetes liveness: the process answers; never touches Redis or the database.

    A DRF view with no authenticators (not a plain Django view), so no middleware runs a token
    check on it: an ``Authorization`` header, however stale, cannot make liveness fail.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"status": "healthy"})


class ReadinessView(HealthAPIView):
    permission_classes = [AllowAny]

    authentication_classes: list = []

    def get(self, request: Request) -> Response:
        body = readiness_status.get()  # statuses only, shared by every caller for an interval
        return Response(body, status=http_status(body["status"]))


class MetricsView(HealthAPIView):
    renderer_classes = [JSONRenderer, PrometheusRenderer]

    def get(self, request: Request) -> Response:
        if isinstance(request.accepted_renderer, PrometheusRenderer):
            return Response(prometheus_text(), content_type=PrometheusRenderer.content_type)
        return Response(metrics_snapshot())


component_view = ComponentHealthView.as_view()
liveness = LivenessView.as_view()
