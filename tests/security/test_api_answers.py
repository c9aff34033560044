"""What an API client expects from anything under /api/, with DEBUG on or off: JSON 404 and 405, 401 Bearer."""

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def client(request):
    with override_settings(DEBUG=request.param):
        yield Client(raise_request_exception=False)


@pytest.mark.parametrize("method, path", [
    ("get", "/api/nothing-here/"),
    ("post", "/api/nothing/here/"),
    ("delete", "/api/profiles/abc/"),  # an id the route's converter refuses
    ("get", "/api/profiles/1234567890123456789/"),  # too long for a user id
    ("put", "/api/matches/-1/like/"),
])
def test_unknown_api_paths_are_json_404s(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_missing_slash_is_a_404_naming_the_url_not_a_redirect(client):
    for method in ("get", "post"):  # Django would redirect the GET and, with DEBUG on, 500 the POST
        response = getattr(client, method)("/api/sessions")
        assert response.status_code == 404 and response.json()["detail"].endswith("/api/sessions/")


def test_wrong_method_is_a_json_405_with_allow(client, django_user_model):
    response = client.put("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["detail"] == 'Method "PUT" not allowed.'
    anonymous = client.delete("/api/auth/register/")
    assert anonymous.status_code == 405 and "POST" in anonymous["Allow"] and "detail" in anonymous.json()


def test_missing_and_refused_credentials_are_401_bearer(client):
    missing = client.get("/api/matches/")
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == 'Bearer realm="api"'
    refused = client.get("/api/matches/", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_pages_outside_the_api_keep_django_answers(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")
