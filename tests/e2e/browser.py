"""Debian's Chromium driven by Playwright (its own browser download is never used), for the browser tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
# Collects the page's CSP violations; the tests assert there are none.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def find_chromium() -> str | None:
    for candidate in (os.environ.get("WINKR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.skip("No Chromium found (install Debian's `chromium`, or set WINKR_CHROMIUM): browser test skipped.")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


class OriginGuard:
    """Records every request and WebSocket URL of the contexts it watches, and every CSP violation."""

    def __init__(self, origin: str):
        self.origin = origin
        self.urls: list[str] = []
        self.blocked: list[str] = []  # refused by our CSP inside the browser: never sent
        self.failures: dict[str, str] = {}
        self.pages: list = []

    def watch(self, context):
        context.add_init_script(CSP_WATCH)
        context.on("request", lambda request: self.urls.append(request.url))
        context.on("requestfailed", self._failed)
        context.on("page", self._page)
        return context

    def _failed(self, request) -> None:
        self.failures[request.url] = request.failure or ""
        # Chromium reports a request its CSP refused as failed with "csp" (net::ERR_BLOCKED_BY_CSP).
        if (request.failure or "") in ("csp", "net::ERR_BLOCKED_BY_CSP"):
            self.blocked.append(request.url)

    def _page(self, page) -> None:
        self.pages.append(page)
        page.on("websocket", lambda ws: self.urls.append(ws.url))

    def new_context(self, browser, **options):
        return self.watch(browser.new_context(viewport={"width": 1100, "height": 760}, **options))

    def check(self, allowed_violations: tuple[str, ...] = ()) -> None:
        """No request left the origin; the only CSP refusals are the ``allowed_violations`` (which the
        browser then never sent: they failed as blocked by CSP)."""
        own = urlsplit(self.origin)
        foreign = [url for url in self.urls
                   if not url.startswith(("data:", "blob:"))
                   and (urlsplit(url).hostname, urlsplit(url).port) != (own.hostname, own.port)]
        assert self.urls, "no request was recorded"
        sent = [url for url in foreign if url not in self.blocked or f"img-src {url}" not in allowed_violations]
        assert not sent, f"requests left {self.origin}: {sent} {self.failures}"
        for page in self.pages:
            if not page.is_closed():
                violations = [v for v in page.evaluate("window.__cspViolations || []") if v not in allowed_violations]
                assert not violations, f"CSP violations on {page.url}: {violations}"


def screenshot(page, name: str) -> None:
    """Write docs/img/<name>.png for the README when WINKR_SCREENSHOTS names a folder (scripts/screenshots.sh)."""
    folder = os.environ.get("WINKR_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
