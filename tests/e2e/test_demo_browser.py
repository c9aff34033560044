"""The live demo (/demo/) in two Chromium contexts, as two people on two phones would use it: register and
log in, presence, chat with replay after a reload and after a dropped connection (each missed message shown
exactly once), a match notification, revoking a device, and "log out everywhere" closing the other tab's
socket with 4401. Every request stays on our origin and nothing breaks the CSP."""

from __future__ import annotations

import subprocess
import sys

import pytest

from caching_app.devservers.asgi_servers import ROOT
from tests.e2e.browser import OriginGuard, browser, screenshot  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 20_000  # ms; a condition with a deadline, on a machine that may be busy
CREATE_BOB = """
from django.contrib.auth import get_user_model
print(get_user_model().objects.create_user("bob", password="pw-bob-demo-123").pk)
"""


@pytest.fixture
def server(daphne_factory, collected_static):  # noqa: F811
    return daphne_factory(env={"DJANGO_STATIC_ROOT": str(collected_static)})


@pytest.fixture
def bob_id(server) -> int:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_BOB], cwd=ROOT, env=server.env,
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


@pytest.fixture
def guard(server):
    guard = OriginGuard(server.url)
    yield guard
    guard.check()


def open_demo(context, server):
    page = context.new_page()
    page.goto(f"{server.url}/demo/")
    return page


def sign_in(page, username: str, password: str, register: bool = False) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#register" if register else "#login")
    page.locator("#whoami").wait_for(timeout=WAIT)
    page.locator("#chat-state.open").wait_for(timeout=WAIT)
    page.locator("#notify-state.open").wait_for(timeout=WAIT)


def watch(page, user_id: int) -> None:
    page.fill("#partner", str(user_id))
    page.click("#partner-form button[type=submit]")


def send(page, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")
    page.locator("#messages li.msg.mine", has_text=text).wait_for(timeout=WAIT)  # acked by the server


def messages(page, text: str):
    return page.locator("#messages li.msg", has_text=text)


def test_two_people_chat_replay_match_and_logout_everywhere(browser, server, bob_id, guard):  # noqa: F811
    alice = open_demo(guard.new_context(browser), server)
    sign_in(alice, "alice", "pw-alice-demo-123", register=True)
    alice_id = int(alice.locator("#me-id").inner_text())
    watch(alice, bob_id)
    alice.locator("#presence.offline").wait_for(timeout=WAIT)  # bob has never been here

    bob_context = guard.new_context(browser)
    bob = open_demo(bob_context, server)
    sign_in(bob, "bob", "pw-bob-demo-123")
    watch(bob, alice_id)
    alice.locator("#presence.online").wait_for(timeout=WAIT)  # alice sees bob come online

    send(alice, "hello bob")
    messages(bob, "hello bob").wait_for(timeout=WAIT)
    send(bob, "hi alice")
    messages(alice, "hi alice").wait_for(timeout=WAIT)

    check_replay_after_reload_and_drop(alice, bob)
    check_match(alice, bob)
    tab = open_demo(bob_context, server)
    check_revoking_a_device(bob, tab)
    check_log_out_everywhere(alice, bob, tab)


def check_replay_after_reload_and_drop(alice, bob) -> None:
    """Bob's page reloads while alice writes, then loses its connection: each time the replay through ?since=
    brings each missed message once."""
    bob.click("#drop")
    bob.locator("#chat-state.closed").wait_for(timeout=WAIT)
    send(alice, "missed one")
    send(alice, "missed two")
    bob.reload()
    bob.locator("#chat-info", has_text="Replayed 2 missed message(s).").wait_for(timeout=WAIT)
    for text in ("hello bob", "hi alice", "missed one", "missed two"):
        assert messages(bob, text).count() == 1, text
    assert bob.locator("#messages li.msg").count() == 4

    # A lost connection: the same, without a reload.
    bob.click("#drop")
    bob.locator("#chat-state.closed").wait_for(timeout=WAIT)
    send(alice, "missed three")
    bob.click("#drop")  # "Reconnect"
    bob.locator("#chat-info", has_text="Replayed 1 missed message(s).").wait_for(timeout=WAIT)
    assert messages(bob, "missed three").count() == 1
    assert bob.locator("#messages li.msg").count() == 5


def check_match(alice, bob) -> None:
    """A mutual like is a match: both get the notification on ws/notifications/."""
    alice.click("#like")
    alice.locator("#like-result", has_text="Liked").wait_for(timeout=WAIT)
    bob.click("#like")
    bob.locator("#like-result", has_text="match").wait_for(timeout=WAIT)
    for page in (alice, bob):
        page.locator("#notifications li[data-kind=match]").wait_for(timeout=WAIT)
        assert page.locator("#notifications li[data-kind=match]").count() == 1
    screenshot(alice, "demo")


def check_revoking_a_device(bob, tab) -> None:
    """Bob's second tab is a second device: bob sees it and revokes it; its socket closes with 4401."""
    sign_in(tab, "bob", "pw-bob-demo-123")
    bob.click("#refresh-devices")
    bob.locator("#devices tr.device:nth-child(2)").wait_for(timeout=WAIT)
    assert bob.locator("#devices tr.device").count() == 2
    bob.locator("#devices tr.device", has_not_text="(this tab)").locator("button.revoke").click()
    tab.locator("#signed-out", has_text="4401").wait_for(timeout=WAIT)
    bob.locator("#devices tr.device").nth(1).wait_for(state="detached", timeout=WAIT)
    assert bob.locator("#chat-state.open").count() == 1  # this device is untouched


def check_log_out_everywhere(alice, bob, tab) -> None:
    """Log out everywhere from the second tab: the first tab's socket closes with 4401 and the page says so."""
    sign_in(tab, "bob", "pw-bob-demo-123")
    tab.click("#logout-all")
    tab.locator("#signed-out", has_text="Logged out everywhere").wait_for(timeout=WAIT)
    bob.locator("#signed-out", has_text="closed the socket with 4401").wait_for(timeout=WAIT)
    assert bob.locator("#app").is_hidden()
    assert alice.locator("#chat-state.open").count() == 1  # another user's sockets stay open
