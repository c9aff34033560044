"""caching_app.negotiation: DRF's content negotiation remembered, with DRF's own outcome every time."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.test import RequestFactory, override_settings
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from caching_app import negotiation
from caching_app.foundation.inputs import MAX_MEMO_TEXT

ACCEPTS = [
    "application/json", "application/json; indent=4", "*/*", "text/html", "text/html;q=0.5, application/json",
    "application/*", "application/json;q=0.1, text/html;q=0.9", "text/*; charset=utf-8", "", "garbage",
]


class TwoRenderers(APIView):
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]


class OwnRenderers(TwoRenderers):
    def get_renderers(self) -> list:
        return [TemplateHTMLRenderer()]


def view_for(cls: type[APIView], path: str = "/x/", format_kwarg: str | None = None, **headers: str
             ) -> tuple[APIView, Request]:
    request = Request(RequestFactory().get(path, **headers))
    view = cls()
    view.format_kwarg = format_kwarg
    return view, request


def drf(cls: type[APIView], path: str = "/x/", format_kwarg: str | None = None, **headers: str) -> tuple:
    view, request = view_for(cls, path, format_kwarg, **headers)
    try:
        renderer, media_type = DefaultContentNegotiation().select_renderer(request, view.get_renderers(), format_kwarg)
    except (exceptions.NotAcceptable, Http404) as exc:  # Http404: a format no renderer has
        return (type(exc).__name__,)
    return type(renderer), media_type


def ours(cls: type[APIView], path: str = "/x/", format_kwarg: str | None = None, **headers: str) -> tuple:
    view, request = view_for(cls, path, format_kwarg, **headers)
    try:
        renderer, media_type = negotiation.negotiate(view, request)
    except (exceptions.NotAcceptable, Http404) as exc:  # Http404: a format no renderer has
        return (type(exc).__name__,)
    return type(renderer), media_type


@pytest.fixture(autouse=True)
def empty_memo():
    negotiation._outcomes.clear()
    yield
    negotiation._outcomes.clear()


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("path,format_kwarg", [("/x/", None), ("/x/?format=json", None), ("/x/?format=api", None),
                                               ("/x/?format=yaml", None), ("/x/", "api")])
def test_the_first_and_the_remembered_outcome_are_drfs(accept, path, format_kwarg):
    expected = drf(TwoRenderers, path, format_kwarg, HTTP_ACCEPT=accept)
    assert ours(TwoRenderers, path, format_kwarg, HTTP_ACCEPT=accept) == expected
    assert ours(TwoRenderers, path, format_kwarg, HTTP_ACCEPT=accept) == expected  # now from the memo
    assert ours(TwoRenderers, path, format_kwarg) == drf(TwoRenderers, path, format_kwarg)  # no Accept header


def test_a_remembered_outcome_is_a_fresh_renderer_each_time():
    view, request = view_for(TwoRenderers, HTTP_ACCEPT="application/json")
    first, _ = negotiation.negotiate(view, request)
    second, media_type = negotiation.negotiate(*view_for(TwoRenderers, HTTP_ACCEPT="application/json"))
    assert isinstance(second, JSONRenderer) and second is not first and media_type == "application/json"
    assert len(negotiation._outcomes) == 1


def test_refusals_are_never_remembered_and_force_falls_back_as_drf_does():
    assert ours(TwoRenderers, HTTP_ACCEPT="image/png") == ("NotAcceptable",)
    assert negotiation._outcomes == {}
    view, request = view_for(TwoRenderers, HTTP_ACCEPT="image/png")
    renderer, media_type = negotiation.negotiate(view, request, force=True)
    assert (type(renderer), media_type) == (JSONRenderer, "application/json")


def test_long_headers_are_negotiated_each_time_and_the_memo_stays_bounded():
    long_accept = "application/json;" + "x" * MAX_MEMO_TEXT
    assert ours(TwoRenderers, HTTP_ACCEPT=long_accept) == drf(TwoRenderers, HTTP_ACCEPT=long_accept)
    assert negotiation._outcomes == {}
    for index in range(negotiation.MEMO_SIZE + 10):
        ours(TwoRenderers, HTTP_ACCEPT=f"application/json; v={index}")
    assert 0 < len(negotiation._outcomes) <= negotiation.MEMO_SIZE
    assert ours(TwoRenderers, HTTP_ACCEPT="application/json; v=3") == (JSONRenderer, "application/json; v=3")


def test_views_with_their_own_renderers_keep_drfs_path():
    view, request = view_for(OwnRenderers, HTTP_ACCEPT="text/html")
    renderer, _ = negotiation.negotiate(view, request)
    assert isinstance(renderer, TemplateHTMLRenderer)
    assert negotiation._outcomes == {}


def test_a_settings_change_empties_the_memo():
    ours(TwoRenderers, HTTP_ACCEPT="application/json")
    assert negotiation._outcomes
    with override_settings(REST_FRAMEWORK={"URL_FORMAT_OVERRIDE": "fmt"}):
        assert negotiation._outcomes == {}
        assert ours(TwoRenderers, "/x/?fmt=api") == drf(TwoRenderers, "/x/?fmt=api") == (
            BrowsableAPIRenderer, "text/html")


def test_every_outcome_is_drfs_with_all_of_them_remembered_together():
    cases = [(path, format_kwarg, accept) for accept in ACCEPTS
             for path, format_kwarg in [("/x/", None), ("/x/?format=api", None), ("/x/", "json")]]
    expected = [drf(TwoRenderers, path, format_kwarg, HTTP_ACCEPT=accept) for path, format_kwarg, accept in cases]
    for _ in range(2):
        assert [ours(TwoRenderers, path, format_kwarg, HTTP_ACCEPT=accept)
                for path, format_kwarg, accept in cases] == expected


def test_oversized_client_text_gets_drfs_answer_and_is_never_kept():
    huge_accept = "application/json, " + "text/x-" * 2000  # beyond DRF's own 8192-character cut as well
    huge_format = "/x/?format=" + "j" * 10_000
    assert ours(TwoRenderers, HTTP_ACCEPT=huge_accept) == drf(TwoRenderers, HTTP_ACCEPT=huge_accept)
    assert ours(TwoRenderers, huge_format) == drf(TwoRenderers, huge_format) == ("Http404",)
    assert negotiation._outcomes == {}
