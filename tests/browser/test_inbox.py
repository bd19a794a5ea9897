"""The inbox as a daily tool in Chromium, at desktop (1280 px) and phone (390 px) widths: a saved filter,
bulk claim, approving from the keyboard with a confirmation, the "Done by me" tab, the task page's two
comment boxes told apart, the warning for an @mention of nobody, and the hint that a delegate is away."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from engine.admin import users
from engine.core.clock import SystemClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.tasks import collaboration
from tests.factories import actor

from .conftest import DESKTOP, MOBILE, live_server_of, watched_page
from .test_tasklist import sign_in, start_intake

WIDTHS = pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "phone"])


def keys_ready(page: Page) -> None:
    """inbox.js has bound the shortcuts."""
    expect(page.locator("tbody#rows[data-keys=on]")).to_have_count(1)


def fits(page: Page) -> None:
    """Nothing runs off the side of the screen."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


@pytest.fixture
def server(database_url: str, tmp_path: Path):
    with live_server_of(database_url, tmp_path) as live:
        yield live


@WIDTHS
def test_a_saved_filter_comes_back_with_one_click(server, browser: Browser, viewport: ViewportSize):
    start_intake(server, key="PRJ-S1")
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "alice")
        page.select_option("#process", label="Project intake")
        page.select_option("#due", "week")
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(f"{server.url}/tasks?q=&scope=all&process=project-intake&role=&due=week&sort=due")
        page.get_by_text("Save this view").click()
        page.get_by_label("Name").fill("Intake this week")
        page.get_by_label("Who sees it").select_option(label="Group IT Manager")
        page.get_by_role("button", name="Save view").click()
        expect(page.locator(".flash")).to_contain_text("Saved the view 'Intake this week' (shared with IT Manager)")
        saved = page.get_by_role("link", name="Intake this week")
        expect(saved).to_have_attribute("aria-current", "page")
        fits(page)
        page.get_by_role("link", name="All my work").click()
        expect(page.locator("#process")).to_have_value("")
        page.get_by_role("link", name="Intake this week").click()
        expect(page.locator("#process")).to_have_value("project-intake")
        expect(page.locator("#due")).to_have_value("week")
        expect(page.locator("tbody#rows")).to_contain_text("PRJ-S1")


@WIDTHS
def test_bulk_claim_reports_every_task(server, browser: Browser, viewport: ViewportSize):
    for key in ("PRJ-B1", "PRJ-B2", "PRJ-B3"):
        start_intake(server, key=key)
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url))
    try:
        users.create_user(ctx, "ivan", "demo", ["IT Manager"], ["approver"])
    finally:
        ctx.db.dispose()
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "alice")
        rows = page.locator("tbody#rows tr[data-task]")
        expect(rows).to_have_count(3)
        page.get_by_label("Select IT Manager approval PRJ-B1").check()
        page.get_by_label("Select IT Manager approval PRJ-B3").check()
        expect(page.locator("#selected-count")).to_have_text("2 selected")
        # meanwhile ivan takes PRJ-B3: alice's claim of it is refused, the other one holds
        with watched_page(browser, DESKTOP) as ivan:
            sign_in(ivan, server, "ivan")
            ivan.get_by_role("row", name="PRJ-B3").get_by_role("link", name="IT Manager approval").click()
            ivan.get_by_role("button", name="Take this task").click()
            expect(ivan.locator(".flash")).to_contain_text("You took the task")
        page.get_by_role("button", name="Claim", exact=True).click()
        expect(page.locator(".flash")).to_contain_text("1 of 2 done; 1 refused, see why below.")
        expect(page.locator("tr.ok")).to_contain_text("Claimed")
        expect(page.locator("tr.refused")).to_contain_text("409 Conflict")
        expect(page.locator("tr.refused")).to_contain_text("is assigned to ivan")
        fits(page)
        page.get_by_role("link", name="Back to the tasks").click()
        expect(page.get_by_role("row", name="PRJ-B1")).to_contain_text("alice")


@WIDTHS
def test_approving_from_the_keyboard_asks_first_and_lands_in_done_by_me(
    server, browser: Browser, viewport: ViewportSize
):
    start_intake(server, key="PRJ-K1", budget=10_000)
    start_intake(server, key="PRJ-K2", budget=10_000)
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "alice")
        keys_ready(page)
        page.keyboard.press("?")
        help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(help_dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(help_dialog).to_be_hidden()
        page.keyboard.press("j")
        page.keyboard.press("j")
        focused = page.locator("tbody#rows tr.focused")
        expect(focused).to_contain_text("PRJ-K2")
        expect(focused.locator("a.task")).to_be_focused()
        page.keyboard.press("k")
        expect(focused).to_contain_text("PRJ-K1")
        page.keyboard.press("a")
        dialog = page.get_by_role("dialog", name="Approve this task?")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("IT Manager approval (PRJ-K1)")
        page.keyboard.press("Escape")  # cancelled: nothing happened
        expect(dialog).to_be_hidden()
        expect(page.locator("tbody#rows tr[data-task]")).to_have_count(2)
        page.keyboard.press("a")
        dialog.get_by_label("Comment").fill("Fine by me")
        dialog.get_by_role("button", name="Approve").click()
        expect(page.locator(".flash")).to_contain_text("Done: IT Manager approval (PRJ-K1)")
        expect(page.locator("tbody#rows")).not_to_contain_text("PRJ-K1")
        page.get_by_role("link", name="Done by me").click()
        done = page.get_by_role("row", name="PRJ-K1")
        expect(done).to_contain_text("Approved")
        expect(done).to_contain_text("Fine by me")
        fits(page)


@WIDTHS
def test_rejecting_from_the_keyboard_needs_the_comment_the_form_requires(
    server, browser: Browser, viewport: ViewportSize
):
    start_intake(server, key="PRJ-R1", budget=10_000)
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "alice")
        keys_ready(page)
        page.keyboard.press("j")
        page.keyboard.press("r")
        dialog = page.get_by_role("dialog", name="Reject this task?")
        expect(dialog).to_contain_text("Required when you reject")
        expect(dialog.get_by_label("Comment")).to_be_focused()
        page.keyboard.type("Not this year")
        dialog.get_by_role("button", name="Reject").click()
        expect(page.locator(".flash")).to_contain_text("Done: IT Manager approval (PRJ-R1)")
        page.get_by_role("link", name="Done by me").click()
        expect(page.get_by_role("row", name="PRJ-R1")).to_contain_text("Rejected")


@WIDTHS
def test_the_task_page_tells_the_decision_comment_from_the_discussion(server, browser: Browser, viewport: ViewportSize):
    start_intake(server, key="PRJ-C1")
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "alice")
        page.get_by_role("link", name="IT Manager approval").first.click()
        decision = page.get_by_label("Comment (with your decision)")
        discussion = page.get_by_label("Add to the discussion")
        expect(decision).to_be_visible()
        expect(page.locator("#decision-note")).to_contain_text("recorded with your decision")
        expect(page.get_by_role("heading", name="Discussion")).to_be_visible()
        expect(page.locator("#comments")).to_contain_text("Posting here does not complete the task.")
        discussion.fill("Is the budget firm, @pmo? cc @bobby")
        page.get_by_role("button", name="Post to the discussion").click()
        # the unknown @mention: warned on posting, marked when shown
        expect(page.locator(".flash.error")).to_contain_text("Not notified: @bobby: no such user.")
        unknown = page.locator("#comments .mention.unknown")
        expect(unknown).to_have_text("@bobby (no such user)")
        expect(page.locator("#comments .mention-warning")).to_contain_text("Nobody was notified of @bobby")
        expect(page.locator("#comments strong.mention")).to_have_text("@pmo")
        fits(page)


@WIDTHS
def test_a_delegate_who_is_away_is_hinted(server, browser: Browser, viewport: ViewportSize):
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url))
    try:
        today = SystemClock().now().date()
        collaboration.set_out_of_office(ctx, actor("erin", "PMO Director"), "dave", today, today + timedelta(days=3))
    finally:
        ctx.db.dispose()
    until = (today + timedelta(days=3)).strftime("%d %b %Y")
    start_intake(server, key="PRJ-A1")
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "alice")
        page.get_by_role("link", name="IT Manager approval").first.click()
        page.get_by_text("Delegate or reassign").click()
        hint = page.locator("#hand-to-away")
        page.fill("#hand-to", "bob")
        expect(hint).to_be_hidden()
        page.fill("#hand-to", "erin")
        expect(hint).to_have_text(f"erin is away until {until}: tasks for them go to dave.")
        fits(page)
        page.goto(server.url + "/account/out-of-office")
        page.fill("#substitute", "erin")
        expect(page.locator("#substitute-away")).to_have_text(f"erin is away until {until}: tasks for them go to dave.")
        fits(page)
