"""Browser fixtures: a real `pmoflow serve` on each database, and Debian's Chromium driven by Playwright.

Playwright only drives the system browser at /usr/bin/chromium (CI installs it with apt-get);
`playwright install` is never run. Without the browser, the browser tests are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from engine.admin.tokens import create_token
from engine.admin.users import ensure_demo_users
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.schema import upgrade
from tests.factories import deploy_shipped
from tests.servers import ROOT, serving

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


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`pmoflow init --demo`, then `pmoflow serve` on a free port until the test ends."""
    env = {
        **os.environ,
        "PMOFLOW_DATABASE_URL": database_url,
        "PMOFLOW_SECRET_KEY": "browser-tests",
        "PMOFLOW_WORKFLOWS_DIR": str(ROOT / "workflows"),
    }
    _init_demo(database_url)  # what `pmoflow init --demo` does (tested through the CLI in tests/e2e)
    with serving(env, tmp_path / "server.log") as url:
        yield LiveServer(url=url, env=env, database_url=database_url)


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


def _page(browser: Browser, viewport: ViewportSize) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page (1280x800) in its own browser context."""
    yield from _page(browser, DESKTOP)


@pytest.fixture
def mobile_page(browser: Browser) -> Iterator[Page]:
    """A fresh phone-sized page (390x844) in its own browser context."""
    yield from _page(browser, MOBILE)
