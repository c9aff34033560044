"""ASGI entry point: HTTP through Django, WebSockets through realtime_app's routing."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "winkr.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (after Django is set up)

from realtime_app.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # ws/chat/ and ws/notifications/ behind the origin check (ALLOWED_HOSTS) and the auth middleware.
    "websocket": websocket_application(),
})
