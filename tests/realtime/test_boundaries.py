"""Issue 14, finding 8: boundary stream ids are client errors (400 invalid_since/invalid_before), never 503.

Redis refuses an exclusive interval that cannot hold an entry (``(max-max`` as a start, ``(0-0`` as an
end) with a ResponseError, which used to be reported as "storage unavailable". One parser
(``realtime_app.streams.client_position``) now refuses them before any Redis call.
"""

from __future__ import annotations

import pytest
from django.test import Client

from realtime_app.errors import InvalidInput
from realtime_app.streams import client_position

pytestmark = pytest.mark.django_db(transaction=True)

MAX = "18446744073709551615"  # 2**64 - 1: Redis' own limit, 20 digits
# The largest part the API accepts: 19 ASCII digits (realtime_app.streams.STREAM_ID, stated in the schema),
# always below 2**64, so no schema-valid id can reach Redis as one it refuses.
LARGEST = "9" * 19


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("query", "code"), [
    ("before=0-0", "invalid_before"),
    ("before=0", "invalid_before"),
    (f"before={MAX}-18446744073709551616", "invalid_before"),
    ("before=18446744073709551616-0", "invalid_before"),
])
def test_history_boundary_before_is_400(users, query, code):
    response = logged_in(users["alice"]).get(f"/api/chat/{users['bob'].pk}/messages/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


@pytest.mark.parametrize("since", [f"{MAX}-{MAX}", f"{MAX}-{MAX}@1.1-2", f"{MAX}-18446744073709551616", "-1"])
def test_notifications_boundary_since_is_400(users, since):
    response = logged_in(users["alice"]).get("/api/notifications/", {"since": since.split("@")[0]})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_since"


def test_the_edges_next_to_the_boundaries_are_valid(users):
    client = logged_in(users["alice"])
    assert client.get(f"/api/chat/{users['bob'].pk}/messages/?before=0-1").status_code == 200
    assert client.get(f"/api/chat/{users['bob'].pk}/messages/?before={LARGEST}-{LARGEST}").status_code == 200
    assert client.get("/api/notifications/", {"since": f"{LARGEST}-{int(LARGEST) - 1}"}).status_code == 200
    assert client.get("/api/notifications/", {"since": "0-0"}).status_code == 200


def test_one_parser_for_every_client_stream_id():
    assert client_position("5", "since") == (5, 0)
    assert client_position(f"{LARGEST}-{LARGEST}", "before") == (10**19 - 1, 10**19 - 1)
    for value, field in [(f"{MAX}-{MAX}", "since"), (f"{MAX}-{MAX}", "before"), ("0-0", "before"), (True, "since"),
                         ("1-2-3", "before")]:
        with pytest.raises(InvalidInput) as caught:
            client_position(value, field)
        assert caught.value.code == f"invalid_{field}"
