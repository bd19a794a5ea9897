"""Deciding from email in Chromium at phone width (390 px): the HTML email with its Approve / Reject buttons, and
the confirmation page those buttons open, used without signing in; an admin turning it off on Administration >
Channels, after which a link sent before is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import HumanTask
from engine.notify import actions, rendering

from .conftest import MOBILE, live_server_of, watched_page
from .test_tasklist import sign_in, start_intake

SETTINGS = Settings(base_url="https://pmo.example.com", smtp_from="pmoflow <noreply@pmo.example.com>")


def fits(page: Page) -> None:
    """Nothing runs off the side of the screen."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def tappable(page: Page, name: str) -> dict[str, float]:
    """The button's box: on screen, within the width, large enough to tap."""
    box = page.get_by_role("link", name=name, exact=True).bounding_box()
    assert box is not None, name
    assert box["x"] >= 0 and box["x"] + box["width"] <= MOBILE["width"], (name, box)
    assert box["width"] >= 44 and box["height"] >= 36, (name, box)
    return box


def test_the_decision_email_reads_and_taps_well_at_390_px(browser: Browser):
    context = {
        "kind": "task_assigned",
        "task_id": "7f1d2c3b-0000-4000-8000-000000000001",
        "task_name": "IT Manager approval",
        "request": "A new customer relationship management system for the whole sales organisation (PRJ-2026-0042)",
        "process": "Project intake",
        "actor": None,
        "reason": None,
        "outcome": None,
        "status": "running",
        "whom": "your group IT Manager",
        "status_label": "Running",
        "verdict": "",
        "due_at": "2026-01-07T09:00:00+00:00",
        "link": "/tasks/7f1d2c3b-0000-4000-8000-000000000001",
    }
    offer = rendering.Offer(
        "https://pmo.example.com/decide/" + "a" * 220,  # as long as a real token
        "https://pmo.example.com/decide/" + "r" * 220,
        datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
    )
    mail = rendering.email(
        context, SETTINGS, "alice@example.com", "Alice", "<m@pmo.example.com>", datetime.now(UTC), offer
    )
    html = mail.get_body(("html",)).get_content()
    with watched_page(browser, MOBILE) as page:  # axe-core checks the email's document too
        page.set_content(html)
        fits(page)
        approve, reject = tappable(page, "Approve"), tappable(page, "Reject")
        tappable(page, "Open the task")
        assert approve["x"] + approve["width"] <= reject["x"] or approve["y"] + approve["height"] <= reject["y"]
        assert page.get_by_role("link", name="Approve", exact=True).get_attribute("href") == offer.approve
        assert page.get_by_role("link", name="Reject", exact=True).get_attribute("href") == offer.reject


@pytest.fixture
def server(database_url: str, tmp_path: Path):
    with live_server_of(database_url, tmp_path) as live:
        yield live


def test_reject_from_the_link_on_a_phone_without_signing_in(server, browser: Browser):
    task_id = start_intake(server, budget=10_000, key="PRJ-M1")["open_tasks"][0]["id"]
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url, secret_key="browser-tests"))
    try:
        path = actions.issue_link(ctx, task_id, "alice", "reject").removeprefix(ctx.settings.base_url)
        with watched_page(browser, MOBILE) as page:
            page.goto(server.url + path)
            expect(page.get_by_role("heading", level=1)).to_contain_text("Reject “IT Manager approval”?")
            fits(page)
            page.get_by_role("button", name="Reject").click()  # the browser asks for the required comment first
            expect(page.get_by_role("heading", level=1)).to_contain_text("Reject “IT Manager approval”?")
            page.get_by_label("Comment").fill("The budget has no owner yet.")
            page.get_by_role("button", name="Reject").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Rejected: IT Manager approval")
            fits(page)
            page.goto(server.url + path)  # the link worked once
            expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
            fits(page)
        with ctx.uow(write=False) as uow:
            row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one()
            assert (row.status, row.completed_by, row.data["decision"]) == ("completed", "alice", "reject")
    finally:
        ctx.db.dispose()


def test_an_admin_turns_email_actions_off_on_a_phone_and_a_link_sent_before_is_refused(server, browser: Browser):
    task_id = start_intake(server, budget=10_000, key="PRJ-M2")["open_tasks"][0]["id"]
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url, secret_key="browser-tests"))
    try:
        path = actions.issue_link(ctx, task_id, "alice", "approve").removeprefix(ctx.settings.base_url)
        with watched_page(browser, MOBILE) as page:
            sign_in(page, server, "pmo")
            page.goto(server.url + "/admin/users")
            page.get_by_role("navigation", name="Administration").get_by_role("link", name="Channels").click()
            email = page.locator("#channel-email_actions")
            expect(email.get_by_role("heading", level=2)).to_contain_text("On")
            fits(page)
            email.get_by_role("button", name="Turn off").click()
            expect(email.get_by_role("heading", level=2)).to_contain_text("Off")
            expect(email.get_by_role("button", name="Follow the server's setting (on)")).to_be_visible()
            expect(email).to_contain_text("pmo,")
            fits(page)
        with watched_page(browser, MOBILE) as page:  # alice's email, sent before: refused, nothing decided
            page.goto(server.url + path)
            expect(page.get_by_role("heading", level=1)).to_have_text("Deciding from messages is turned off")
            fits(page)
        with ctx.uow(write=False) as uow:
            assert uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one().status == "open"
    finally:
        ctx.db.dispose()
