"""The project's HTML pages: the landing page, the live demo and the self-hosted API docs.

Plain Django templates and static files (no build step), all served from our own origin under the
Content-Security-Policy in ``winkr/settings.py``. The demo uses only the public API and sockets, as a
mobile client would.
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

landing = TemplateView.as_view(template_name="winkr/landing.html")
demo = TemplateView.as_view(template_name="winkr/demo.html")

# The split view serves Swagger UI's init code as a script of its own (no inline script).
swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="winkr/swagger_ui.html")

# Redoc builds its styles at run time (styled-components) and searches in a blob: worker: this page
# alone relaxes those two directives; scripts stay 'self' only.
redoc = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
    SpectacularRedocView.as_view(url_name="schema", template_name="winkr/redoc.html")
)
