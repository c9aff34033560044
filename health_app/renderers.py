"""Prometheus text exposition as a DRF renderer, chosen by ``?format=prometheus`` or ``Accept: text/plain``."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.renderers import BaseRenderer


class PrometheusRenderer(BaseRenderer):
    # No parameters here: DRF requires every renderer parameter to appear in the Accept header,
    # and scrapers send "text/plain;version=0.0.4" or plain "text/plain". The response carries
    # prometheus-client's full content type instead (see MetricsView).
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"
    content_type = CONTENT_TYPE_LATEST

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return data if isinstance(data, bytes) else str(data).encode()
