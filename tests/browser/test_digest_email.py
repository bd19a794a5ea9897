"""The daily digest's HTML email and the decision notice in Chromium at a phone's width (390 px): nothing wider
than the screen, the sections and the button readable, links absolute (an email has no base URL)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from engine.notify import rendering, summary
from tests.engine.notify.test_digest_snapshots import DECIDED, DIGEST, NOW, SETTINGS


def _html(mail) -> str:  # type: ignore[no-untyped-def]
    return mail.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    "html",
    [
        pytest.param(_html(summary.email(DIGEST, SETTINGS, "a@example.com", "Alice", "<m@x>", NOW)), id="digest"),
        pytest.param(_html(rendering.email(DECIDED, SETTINGS, "a@example.com", "Ann", "<m@x>", NOW)), id="decided"),
    ],
)
def test_the_email_fits_a_phone(mobile_page: Page, html: str):
    mobile_page.set_content(html)
    widths = mobile_page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 390
    button = mobile_page.get_by_role("link", name="Open my tasks").or_(
        mobile_page.get_by_role("link", name="Open the request")
    )
    box = button.first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 30
    hrefs = mobile_page.evaluate("[...document.querySelectorAll('a')].map((a) => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("https://pmo.example.com/") for h in hrefs)
    assert mobile_page.locator("h1").first.is_visible()


def test_the_digest_shows_its_sections_at_390(mobile_page: Page):
    mobile_page.set_content(_html(summary.email(DIGEST, SETTINGS, "a@example.com", "Alice", "<m@x>", NOW)))
    headings = mobile_page.locator("h2").all_inner_texts()
    assert headings == ["Overdue (1)", "Waiting for you (23)", "You delegated (1)"]
    assert "…and 11 more." in mobile_page.inner_text("body")
    for row in mobile_page.locator("li").all():
        box = row.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
