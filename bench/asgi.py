"""The chat benchmark's ASGI application: the project's, plus the tutorial consumer at ``ws/bench/tutorial/``.

Same origin check, same authentication stack (session cookie) and same channel layer as ``ws/chat/``, so
the two differ only in the consumer. Used by bench/bench_chat.py only; the project never routes it.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from winkr.asgi import django_asgi_app  # noqa: E402  (sets Django up)

# isort: split
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.tutorial_consumer import TutorialConsumer  # noqa: E402
from realtime_app.conf import realtime_settings  # noqa: E402
from realtime_app.origin import SameOriginValidator  # noqa: E402
from realtime_app.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": SameOriginValidator(realtime_settings.AUTH_MIDDLEWARE(URLRouter([
        path("ws/bench/tutorial/", TutorialConsumer.as_asgi()), *websocket_urlpatterns]))),
})
