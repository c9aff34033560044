"""The project served by daphne, as the README's run command serves it."""

import urllib.request


def test_daphne_serves_admin_login_and_liveness(daphne_factory):
    server = daphne_factory()
    with urllib.request.urlopen(f"{server.url}/admin/login/", timeout=5) as response:  # noqa: S310
        body = response.read().decode()
    assert response.status == 200
    assert "Django administration" in body
    assert 'name="username"' in body
