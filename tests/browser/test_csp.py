"""Every page each role can reach, opened in Chromium under the Content-Security-Policy, reports no violation.

The pages are the GET routes of the role-by-route matrix (tests/webui/test_permission_matrix.py) that answer
the role with 200 and HTML, plus the sign-in page, the start page and the error pages; their ids are filled
the way the matrix fills them, in this live server's database. The fixture's page (conftest.watched_page)
fails on a violation reported as a console message or a `securitypolicyviolation` event.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from engine.admin import users
from tests.webui.test_permission_matrix import CALLERS, PAGES, SESSION_USER, fill
from webui.app import CONTENT_SECURITY_POLICY, create_app
from webui.security import DMN_EDITOR_POLICY

from .conftest import LiveServer, watch_csp, watched_page
from .test_designer import create_from_template
from .test_tasklist import sign_in, start_intake

ROLES = [caller for caller in CALLERS if caller != "token"]  # the token caller has no browser session


@pytest.fixture
def filler(live_server: LiveServer) -> Iterator[Flask]:
    """An app on the live server's database, to create what the matrix's routes name (instances, drafts...)."""
    app = create_app({"database_url": live_server.database_url, "secret_key": "browser-tests", "TESTING": True})
    ctx = app.extensions["pmoflow"]
    users.create_user(ctx, "dana", "demo", [], ["designer"])
    users.create_user(ctx, "matrix-target", "demo", [], ["approver"])
    yield app
    ctx.db.dispose()


def pages_of(caller: str) -> list[tuple[str, int]]:
    """The matrix's GET routes that answer `caller` with 200, one that refuses it (403, the error page) if
    any, the start page and a page that does not exist (404)."""
    column = CALLERS.index(caller)
    routes = [(rule, expected[column]) for (method, rule), expected in PAGES.items() if method == "GET"]
    allowed = [(rule, status) for rule, status in routes if status == 200]
    refused = [(rule, status) for rule, status in routes if status == 403][:1]
    return [*allowed, *refused, ("/", 200), ("/no-such-page", 404)]


def visit(page: Page, url: str, status: int) -> bool:
    """Open `url` when it answers `status` with HTML (downloads and JSON are no pages); True if it was opened."""
    probe = page.request.get(url, max_redirects=0)
    if probe.status != status or not probe.headers.get("content-type", "").startswith("text/html"):
        return False
    expected = DMN_EDITOR_POLICY if "/dmn/" in url else CONTENT_SECURITY_POLICY  # dmn-js's cell editor: <style>
    assert probe.headers.get("content-security-policy") == expected, url
    response = page.goto(url)
    assert response is not None and response.status == status, url
    try:  # diagrams drawn, panels built: what the page's scripts do on opening, they did
        page.wait_for_load_state("networkidle", timeout=15_000)
    except PlaywrightTimeout:  # a busy machine: check what ran so far rather than fail on the wait
        pass
    return True


@pytest.mark.parametrize("caller", ROLES)
def test_every_page_a_role_reaches_runs_without_a_csp_violation(
    live_server: LiveServer, browser: Browser, filler: Flask, caller: str
):
    violations: list[str] = []
    opened: list[str] = []
    with watched_page(browser) as page:
        watch_csp(page, violations)
        if caller in SESSION_USER:
            sign_in(page, live_server, SESSION_USER[caller])
        for rule, status in pages_of(caller):
            url = live_server.url + fill(rule, filler)
            if visit(page, url, status):
                opened.append(rule)
        assert violations == [], "\n".join(violations)
    assert "/no-such-page" in opened and ("/" in opened) == (caller not in SESSION_USER)  # signed in: to the inbox
    assert ("/tasks" in opened and len(opened) >= 6) if caller in SESSION_USER else "/login" in opened, opened


def test_the_page_behaviours_moved_out_of_inline_code_still_work(live_server: LiveServer, page: Page):
    """What the templates did inline (onsubmit=confirm, onchange=navigate, onclick=print, the copy button's
    script) static/pages.js now does from data attributes."""
    instance = start_intake(live_server, key="PRJ-CSP")
    sign_in(page, live_server, "pmo")

    create_from_template(page, live_server, "csp-draft", "project-intake")  # data-confirm
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("form.discard button[type=submit]")
    expect(page).to_have_url(re.compile(r"/designer/drafts/csp-draft$"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form.discard button[type=submit]")
    expect(page.locator(".flash")).to_be_visible()
    assert not page.url.endswith("/designer/drafts/csp-draft")

    page.goto(live_server.url + "/designer/processes/project-intake/versions/1")  # data-navigate
    page.evaluate("() => { document.body.dataset.before = 'yes'; }")
    page.select_option("#pick-version", "1")
    expect(page.locator("body[data-before]")).to_have_count(0)  # a new page was loaded
    expect(page).to_have_url(re.compile(r"/designer/processes/project-intake/versions/1$"))

    page.goto(live_server.url + "/admin/tokens")  # data-copy, and the secret selected on focus
    page.fill("#username", "intake-bot")
    page.fill("#label", "csp")
    page.click("form[action$='/admin/tokens'] button[type=submit]")
    page.click("#token-copy")
    expect(page.locator("#token-copy")).to_have_text("Copied")
    assert page.evaluate("() => { const t = document.getElementById('token'); return t.selectionEnd > 0; }")

    page.goto(f"{live_server.url}/audit/instances/{instance['id']}/report")  # data-print
    page.evaluate("() => { window.print = () => { document.body.dataset.printed = 'yes'; }; }")
    page.click("button[data-print]")
    expect(page.locator("body[data-printed=yes]")).to_have_count(1)


def test_the_watched_page_sees_a_violation(live_server: LiveServer, browser: Browser):
    """The fixture's check works: an inline script and a style element added to a page are reported, both by
    Chromium's console message and by the page's securitypolicyviolation event."""
    violations: list[str] = []
    with pytest.raises(AssertionError, match="Content-Security-Policy violations"):
        with watched_page(browser) as page:
            watch_csp(page, violations)
            page.goto(live_server.url + "/login")
            page.evaluate("""() => {
                document.body.append(Object.assign(document.createElement('script'), {textContent: 'window.ran = 1'}));
                document.head.append(Object.assign(document.createElement('style'), {textContent: 'p {}'}));
            }""")
            expect(page.locator("body")).to_be_visible()
            page.wait_for_function("() => true")  # a round trip, for the console messages to arrive
            assert page.evaluate("() => window.ran") is None  # the injected script did not run
    assert any(v.startswith(live_server.url) and "securitypolicyviolation: script-src-elem" in v for v in violations)
    assert any("securitypolicyviolation: style-src-elem" in v for v in violations)
    assert any("violates the following Content Security Policy directive" in v for v in violations)


def test_browser_tests_open_pages_only_through_the_watched_fixture():
    """A browser context opened directly, not through watched_page, would not be checked for violations."""
    opening = "new_" + "context("  # spelled apart, or this file would find itself
    for path in Path(__file__).parent.glob("*.py"):
        if path.name != "conftest.py":
            assert opening not in path.read_text(), path.name
