"""cache_response on DRF handlers: key covers path, query and user; X-Cache; only 200s."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from caching_app.drf import cache_response
from caching_app.service import cache_service, user_group

pytestmark = pytest.mark.django_db
hits: list = []


class EchoView(APIView):
    @cache_response(kind="api_response", per_user=True)
    def get(self, request):
        hits.append(request.user.pk)
        if "fail" in request.query_params:
            return Response({"detail": "bad"}, status=400)
        return Response({"user": request.user.pk, "q": request.query_params.get("q")})


class SharedView(APIView):
    @cache_response(kind="api_response", per_user=False)
    def get(self, request):
        hits.append("shared")
        return Response({"n": len(hits)})


@pytest.fixture
def users():
    hits.clear()
    model = get_user_model()
    return model.objects.create(username="a"), model.objects.create(username="b")


def call(view, user, path="/echo/"):
    request = APIRequestFactory().get(path)
    force_authenticate(request, user=user)
    return view.as_view()(request)


def test_per_user_and_query_string_in_the_key(users):
    alice, bob = users
    first = call(EchoView, alice, "/echo/?q=1")
    assert first["X-Cache"] == "MISS" and first.data == {"user": alice.pk, "q": "1"}
    again = call(EchoView, alice, "/echo/?q=1")
    assert again["X-Cache"] == "HIT" and again.data == first.data
    assert call(EchoView, bob, "/echo/?q=1").data == {"user": bob.pk, "q": "1"}  # never alice's body
    assert call(EchoView, alice, "/echo/?q=2")["X-Cache"] == "MISS"
    assert hits == [alice.pk, bob.pk, alice.pk]


def test_per_user_entries_join_the_users_group(users):
    alice, _ = users
    call(EchoView, alice)
    cache_service.invalidate_group(user_group(alice.pk))
    assert call(EchoView, alice)["X-Cache"] == "MISS"


def test_errors_are_not_cached(users):
    alice, _ = users
    assert call(EchoView, alice, "/echo/?fail=1").status_code == 400
    assert call(EchoView, alice, "/echo/?fail=1").status_code == 400
    assert len(hits) == 2


def test_shared_responses(users):
    alice, bob = users
    assert call(SharedView, alice).data == call(SharedView, bob).data
    assert hits == ["shared"]


def test_unauthenticated_request_still_rejected_before_cache(users):
    alice, _ = users
    call(EchoView, alice)
    response = EchoView.as_view()(APIRequestFactory().get("/echo/"))
    assert response.status_code == 401
