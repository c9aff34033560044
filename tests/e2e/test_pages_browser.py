"""Our HTML pages in Debian's Chromium, served by daphne with collected static files (as in the container):
the landing page, the styled admin, Swagger UI and Redoc. No page makes a request outside its own origin
and none breaks the Content-Security-Policy."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from caching_app.devservers.asgi_servers import ROOT
from tests.e2e.browser import OriginGuard, browser, screenshot  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CREATE_ADMIN = """
from django.contrib.auth import get_user_model
get_user_model().objects.create_superuser("root", password="pw-root-123")
"""


@pytest.fixture
def server(daphne_factory, collected_static):  # noqa: F811
    server = daphne_factory(env={"DJANGO_STATIC_ROOT": str(collected_static)})
    subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_ADMIN], cwd=ROOT, env=server.env, check=True,
                   capture_output=True)
    return server


@pytest.fixture
def guard(server):
    guard = OriginGuard(server.url)
    yield guard
    guard.check()


def test_landing_page_links_admin_docs_demo_health_and_first_steps(browser, server, guard):  # noqa: F811
    page = guard.new_context(browser).new_page()
    response = page.goto(f"{server.url}/")
    assert response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("h1").inner_text() == "winkr"
    hrefs = set(page.eval_on_selector_all("main a", "links => links.map(a => a.getAttribute('href'))"))
    assert {"/admin/", "/api/docs/", "/api/redoc/", "/demo/", "/health/liveness", "/health/readiness", "/health",
            "/health/metrics"} <= hrefs
    first_steps = page.locator("#first-steps").inner_text()
    assert "python3 dev.py run" in first_steps and "python3 dev.py test" in first_steps
    assert page.locator("link[rel=stylesheet]").get_attribute("href").startswith("/static/winkr/site.")
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).borderRadius") == "8px"
    screenshot(page, "landing")
    # Every link answers: pages with 200; the staff-only metrics with a JSON 401 or 403, never a 404 or 500.
    for href in sorted(hrefs):
        answer = page.request.get(f"{server.url}{href}")
        expected = {401, 403} if href == "/health/metrics" else {200}
        assert answer.status in expected, (href, answer.status)
    page.click("#link-demo")
    page.wait_for_url(f"{server.url}/demo/")


def test_admin_is_styled_by_hashed_compressed_static_files(browser, server, guard):  # noqa: F811
    context = guard.new_context(browser)
    page = context.new_page()
    stylesheets = []
    page.on("response", lambda r: stylesheets.append(r) if r.url.endswith(".css") else None)
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    page.goto(f"{server.url}/admin/winkr_sessions/livesession/")
    # The admin's own stylesheet is applied: its header colour and its font stack, not the browser's defaults.
    assert page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor") == "rgb(65, 118, 144)"
    assert "sans-serif" in page.evaluate("getComputedStyle(document.body).fontFamily")
    base = next(r for r in stylesheets if "/static/admin/css/base." in r.url)
    assert re.search(r"/base\.[0-9a-f]{12}\.css$", base.url), base.url
    assert base.status == 200
    assert base.headers.get("content-encoding") == "gzip"
    assert "immutable" in base.headers["cache-control"]
    screenshot(page, "admin-sessions")


def test_swagger_ui_lists_the_operations_from_our_own_origin(browser, server, guard):  # noqa: F811
    page = guard.new_context(browser).new_page()
    page.goto(f"{server.url}/api/docs/")
    page.locator(".opblock").first.wait_for(timeout=20_000)
    paths = set(page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.dataset.path)"))
    assert {"/api/auth/token/", "/api/auth/logout-all/", "/api/sessions/", "/api/chat/{user_id}/messages/",
            "/api/matches/{user_id}/like/"} <= paths
    assert page.locator(".opblock").count() >= 20
    assert page.locator("script[src*='drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle']").count() == 1


# Redoc 2 hard-codes its "API docs by Redocly" logo from a CDN; our CSP (img-src 'self' data:) refuses it
# in the browser, so it is never requested. It is the one violation this test allows.
REDOC_LOGO = "img-src https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_redoc_renders_the_schema_from_our_own_origin(browser, server):  # noqa: F811
    guard = OriginGuard(server.url)
    page = guard.new_context(browser).new_page()
    response = page.goto(f"{server.url}/api/redoc/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    page.get_by_text("/api/auth/logout-all/").first.wait_for(timeout=20_000)
    assert page.locator("h1").first.inner_text().startswith("winkr API")
    guard.check(allowed_violations=(REDOC_LOGO,))
