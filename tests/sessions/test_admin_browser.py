"""The admin Sessions page in a real headless Chromium, against the project served by daphne."""

from __future__ import annotations

import subprocess
import sys

import pytest

from caching_app.devservers.asgi_servers import ROOT
from tests.e2e.browser import browser  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CREATE_USERS = """
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_superuser("root", password="pw-root-123")
User.objects.create_user("alice", password="pw-alice-123", is_staff=True)
"""


@pytest.fixture
def server(daphne_factory):  # noqa: F811
    server = daphne_factory()
    subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_USERS], cwd=ROOT, env=server.env, check=True,
                   capture_output=True)
    return server


def login(browser, server, username: str, password: str):  # noqa: F811
    page = browser.new_context().new_page()
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    return page


def sessions_page(page, server, query: str = ""):
    page.goto(f"{server.url}/admin/winkr_sessions/livesession/{query}")
    return page


def test_admin_lists_live_sessions_and_revoking_logs_that_browser_out(browser, server):  # noqa: F811
    alice = login(browser, server, "alice", "pw-alice-123")
    admin = login(browser, server, "root", "pw-root-123")

    sessions_page(admin, server)
    assert "Live device sessions" in admin.content()
    assert admin.locator("tr.session-row").count() == 2  # alice's browser and root's own

    sessions_page(admin, server, "?q=alic")
    rows = admin.locator("tr.session-row")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-username") == "alice"
    assert "online" in rows.first.locator("td.online-flag").inner_text()
    assert "cookie" in rows.first.inner_text() and "Chrome" in rows.first.inner_text()

    sessions_page(admin, server, "?q=alice&online=no")
    assert admin.locator("tr.session-row").count() == 0

    sessions_page(admin, server, "?q=alice")
    admin.locator("tr.session-row").first.locator("button.revoke-session").click()
    admin.wait_for_load_state()
    assert "Session revoked" in admin.content()
    assert admin.locator("tr.session-row").count() == 0

    alice.goto(f"{server.url}/admin/")
    assert "/admin/login/" in alice.url  # that browser is logged out

    # Alice (staff without the sessions permissions) may not see the page at all.
    alice = login(browser, server, "alice", "pw-alice-123")
    response = alice.goto(f"{server.url}/admin/winkr_sessions/livesession/")
    assert response.status == 403


def test_admin_revokes_all_of_a_users_sessions(browser, server):  # noqa: F811
    phones = [login(browser, server, "alice", "pw-alice-123") for _ in range(2)]
    admin = login(browser, server, "root", "pw-root-123")
    sessions_page(admin, server, "?q=alice")
    assert admin.locator("tr.session-row").count() == 2
    admin.locator("tr.session-row").first.locator("button.revoke-user").click()
    admin.wait_for_load_state()
    assert "Revoked 2 session(s)" in admin.content()
    for phone in phones:
        phone.goto(f"{server.url}/admin/")
        assert "/admin/login/" in phone.url
    sessions_page(admin, server)
    assert admin.locator("tr.session-row").count() == 1  # root's own session is untouched
