"""Watching a request and choosing the daily digest, in Chromium at a phone's width (390 px): the Watch
button on the request page, the decision reaching the watcher's bell, the digest fields on the settings page."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from .conftest import MOBILE, LiveServer, watched_page
from .test_outcomes import decide, start_as
from .test_tasklist import sign_in


def test_a_watcher_hears_of_the_decision_in_the_bell(live_server: LiveServer, browser: Browser):
    request_id = start_as(live_server, "intake-bot", "Watched laptop", "PRJ-W1")
    with watched_page(browser, MOBILE) as ann:
        sign_in(ann, live_server, "frank")  # an IT Manager: sees the request (his group's task)
        ann.goto(f"{live_server.url}/requests/{request_id}")
        ann.get_by_role("button", name="Watch").click()
        expect(ann.locator(".flash", has_text="watch")).to_contain_text("You watch this request")
        expect(ann.get_by_role("button", name="Unwatch")).to_have_attribute("aria-pressed", "true")
        width = ann.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
    decide(browser, live_server, "PRJ-W1", "Reject", "Not this quarter")
    with watched_page(browser, MOBILE) as ann:
        sign_in(ann, live_server, "frank")
        ann.goto(f"{live_server.url}/notifications")
        expect(ann.locator("body")).to_contain_text("Watched laptop (PRJ-W1), which you watch, was rejected by alice.")


def test_the_digest_is_chosen_on_a_phone(live_server: LiveServer, browser: Browser):
    with watched_page(browser, MOBILE) as page:
        sign_in(page, live_server, "alice")
        page.goto(f"{live_server.url}/account/notifications")
        page.get_by_label("Send me a daily digest").check()
        page.fill("#digest_time", "07:15")
        page.fill("#digest_zone", "Europe/Berlin")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".flash", has_text="Saved")).to_contain_text("Saved your notification settings.")
        expect(page.locator("#digest_time")).to_have_value("07:15")
        expect(page.locator("#digest_zone")).to_have_value("Europe/Berlin")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.fill("#digest_zone", "Atlantis/Capital")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#digest_zone-error")).to_contain_text("is not a known time zone")
