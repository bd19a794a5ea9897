"""Browser fixtures: a real `pmoflow serve` on each database, and Debian's Chromium driven by Playwright.

Playwright only drives the system browser at /usr/bin/chromium (CI installs it with apt-get);
`playwright install` is never run. Without the browser, the browser tests are skipped.

Every page a test opens is watched for Content-Security-Policy violations: Chromium's console message
("Refused to ... because it violates the following Content Security Policy directive") and the
document's `securitypolicyviolation` event. Any violation fails the test when its page closes.

Every document those pages show is also checked with axe-core (tests/browser/accessibility.py) once loaded,
before the test navigates away and when the test ends: a serious or critical accessibility violation fails the test, naming the page,
the rule and the element.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, sync_playwright

from engine.admin.tokens import create_token
from engine.admin.users import ensure_demo_users
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.schema import upgrade
from tests.factories import deploy_shipped
from tests.servers import ROOT, serving

from .accessibility import check_open_pages, watch_accessibility

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
MOBILE: ViewportSize = {"width": 390, "height": 844}


@dataclass(frozen=True)
class LiveServer:
    """A running `pmoflow serve` with the shipped workflows and the demo users (password 'demo')."""

    url: str
    env: dict[str, str]
    database_url: str

    def token(self, user: str) -> str:
        """Create an API token for a demo user, in-process; raises NotFound for an unknown user."""
        ctx = EngineContext.from_settings(Settings(database_url=self.database_url))
        try:
            return create_token(ctx, user, "test")
        finally:
            ctx.db.dispose()


def _init_demo(database_url: str) -> None:
    ctx = EngineContext.from_settings(Settings(database_url=database_url))
    try:
        upgrade(ctx.db)
        deploy_shipped(ctx)
        ensure_demo_users(ctx)
    finally:
        ctx.db.dispose()


@contextmanager
def live_server_of(
    database_url: str,
    tmp_path: Path,
    prepare: Callable[[str], object] | None = None,
    env_extra: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[LiveServer]:
    """`pmoflow init --demo`, then `prepare(database_url)` (data seeded before any server runs, so its
    timer worker cannot fire timers of half-seeded instances), then `pmoflow serve` on a free port (or
    `port`) with the environment and `env_extra`."""
    env = {
        **os.environ,
        "PMOFLOW_DATABASE_URL": database_url,
        "PMOFLOW_SECRET_KEY": "browser-tests",
        "PMOFLOW_WORKFLOWS_DIR": str(ROOT / "workflows"),
        **(env_extra or {}),
    }
    _init_demo(database_url)  # what `pmoflow init --demo` does (tested through the CLI in tests/e2e)
    if prepare is not None:
        prepare(database_url)
    with serving(env, tmp_path / "server.log", port) as url:
        yield LiveServer(url=url, env=env, database_url=database_url)


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`pmoflow init --demo`, then `pmoflow serve` on a free port until the test ends."""
    with live_server_of(database_url, tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium for the whole session; skips when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (CI installs it)")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


# Runs in every document before its own scripts: each violation becomes a console error naming it.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber} (${e.sample || "no sample"})`);
}, true);
"""


def csp_violation(message: ConsoleMessage) -> bool:
    """True for a console message reporting a Content-Security-Policy violation (Chromium's or ours)."""
    text = message.text
    return "Content Security Policy" in text or text.startswith("securitypolicyviolation:")


def watch_csp(page: Page, violations: list[str]) -> None:
    """Append to `violations` each CSP violation `page` reports from now on."""
    page.on("console", lambda m: violations.append(f"{page.url}: {m.text}") if csp_violation(m) else None)


@contextmanager
def watched_page(browser: Browser, viewport: ViewportSize = DESKTOP) -> Iterator[Page]:
    """A page in a new browser context, closed when the block ends; fails if any page of the context reported
    a CSP violation or showed a document with serious or critical axe-core violations. Tests that need a second
    browser use this rather than `browser.new_context()`."""
    context = browser.new_context(viewport=viewport)
    context.add_init_script(REPORT_VIOLATIONS)
    violations: list[str] = []
    inaccessible: list[str] = []
    context.on("page", lambda p: (watch_csp(p, violations), watch_accessibility(p, inaccessible)))  # popups too
    try:
        yield context.new_page()
        check_open_pages(context, inaccessible)  # the documents still open when the test ends
    finally:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)
    assert not inaccessible, "Accessibility (axe-core) violations:\n" + "\n".join(inaccessible)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page (1280x800) in its own browser context."""
    with watched_page(browser, DESKTOP) as page:
        yield page


@pytest.fixture
def mobile_page(browser: Browser) -> Iterator[Page]:
    """A fresh phone-sized page (390x844) in its own browser context."""
    with watched_page(browser, MOBILE) as page:
        yield page
