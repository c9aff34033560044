"""WebSocket routes, and the stack ``winkr/asgi.py`` serves them behind."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from .conf import realtime_settings
from .consumers import ChatConsumer, NotificationConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]


def websocket_application() -> Any:
    """Origin check (ALLOWED_HOSTS), then authentication (``AUTH_MIDDLEWARE``), then the routes."""
    auth_stack = realtime_settings.AUTH_MIDDLEWARE
    return AllowedHostsOriginValidator(auth_stack(URLRouter(websocket_urlpatterns)))
