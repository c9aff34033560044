"""DRF's content negotiation, remembered per Accept header, for the async views.

DRF's ``DefaultContentNegotiation`` instantiates every renderer, reads the query string, parses the
Accept header into media types and matches them against each renderer, on every request: about 80 µs
of an authenticated, cached GET's CPU under load (py-spy under 16 concurrent requests, issue 15), for
an outcome that depends only on the view's renderer classes, the Accept header, the format (suffix or
``?format=``) and DRF's settings. :func:`negotiate` asks DRF once for each of those and remembers
which renderer and media type it chose; a later request with the same inputs gets a fresh instance of
that renderer class and the same media type.

Bounded, as any memo of client text: headers or formats longer than
:data:`~caching_app.foundation.inputs.MAX_MEMO_TEXT` are negotiated every time and not kept, at most
:data:`MEMO_SIZE` outcomes are kept (the memo starts over when full), and it is emptied when
``REST_FRAMEWORK`` changes. A refusal (406) is never remembered: DRF raises it again. Views with
their own ``get_renderers``, negotiator or renderer instances keep DRF's path.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from .foundation.inputs import MAX_MEMO_TEXT

#: How many (renderers, Accept, format) outcomes are kept; a few per view and client kind in practice.
MEMO_SIZE = 512

# A plain dict, not inputs.bounded_memo: an outcome is computed from the request (DRF's select_renderer reads it),
# which cannot be a memo key; the key's client text is bounded below, as bounded_memo bounds it.
_outcomes: dict[tuple[Any, ...], tuple[int, str]] = {}


def negotiate(view: APIView, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
    """What ``view.perform_content_negotiation(request, force)`` returns: the renderer and media type."""
    conneg = view.get_content_negotiator()
    if type(conneg) is not DefaultContentNegotiation or type(view).get_renderers is not APIView.get_renderers:
        return APIView.perform_content_negotiation(view, request, force)
    classes = tuple(view.renderer_classes)
    meta = request._request.META
    accept = meta.get("HTTP_ACCEPT", "*/*")
    format_param = conneg.settings.URL_FORMAT_OVERRIDE
    # DRF's own rule (select_renderer): the suffix, else the query parameter; no query string, no parameter.
    format_ = view.format_kwarg or (request.query_params.get(format_param)
                                    if format_param and meta.get("QUERY_STRING") else None)
    key = (classes, accept, format_)
    known = _outcomes.get(key)
    if known is not None:
        index, media_type = known
        return classes[index](), media_type
    renderers = [renderer_class() for renderer_class in classes]
    try:
        renderer, media_type = conneg.select_renderer(request, renderers, view.format_kwarg)
    except Exception:
        if force:  # DRF's fallback when negotiation fails while an error response is rendered
            return renderers[0], renderers[0].media_type
        raise
    if len(accept) <= MAX_MEMO_TEXT and len(format_ or "") <= MAX_MEMO_TEXT:
        chosen = next((i for i, candidate in enumerate(renderers) if candidate is renderer), None)
        if chosen is not None:
            if len(_outcomes) >= MEMO_SIZE:
                _outcomes.clear()
            _outcomes[key] = (chosen, media_type)
    return renderer, media_type


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "REST_FRAMEWORK":
        _outcomes.clear()


setting_changed.connect(_on_setting_changed, weak=False)
