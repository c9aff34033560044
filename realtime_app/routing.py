"""WebSocket routes, and the stack ``winkr/asgi.py`` serves them behind."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from .conf import realtime_settings
from .consumers import ChatConsumer, NotificationConsumer
from .origin import SameOriginValidator

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]


def websocket_application() -> Any:
    """Origin check (scheme, host and port: :mod:`realtime_app.origin`), then authentication
    (``AUTH_MIDDLEWARE``), then the routes."""
    auth_stack = realtime_settings.AUTH_MIDDLEWARE
    return SameOriginValidator(auth_stack(URLRouter(websocket_urlpatterns)))
