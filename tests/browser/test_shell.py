"""The frame every page shares, in Chromium: the start page, the navigation (a menu on phones, the inbox's
counts), the bell's notifications, the favicon, and the shipped project intake's separation of duties.
axe-core checks every page these tests visit (conftest.watched_page)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import HumanTask, Notification, ProcessInstance
from engine.notify import bell

from .conftest import DESKTOP, MOBILE, LiveServer, watched_page
from .test_tasklist import open_task, sign_in, start_intake

ROLES = ("alice", "erin", "audrey", "pmo")  # approver, approver (PMO Director), auditor, admin and designer


def _engine(server: LiveServer) -> EngineContext:
    return EngineContext.from_settings(Settings(database_url=server.database_url))


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


# ---------------------------------------------------------------- the start page


def test_the_start_page_says_what_pmoflow_is_and_signs_in(live_server: LiveServer, browser: Browser):
    for viewport in (DESKTOP, MOBILE):
        with watched_page(browser, viewport) as page:
            page.goto(live_server.url + "/")
            expect(page.get_by_role("heading", level=1)).to_have_text("pmoflow")
            expect(page.locator("main")).to_contain_text("approvals")
            expect(page.get_by_role("link", name="/api/v1/openapi.json")).to_be_visible()  # systems still find the API
            assert _fits(page)
            page.locator("main").get_by_role("link", name="Sign in").click()
            expect(page).to_have_url(live_server.url + "/login")
            page.fill("#username", "alice")
            page.fill("#password", "demo")
            page.click("button[type=submit]")
            expect(page).to_have_url(live_server.url + "/tasks")
            page.goto(live_server.url + "/")  # signed in: the start page is your work
            expect(page).to_have_url(live_server.url + "/tasks")


# ---------------------------------------------------------------- the navigation on a phone


def test_on_a_phone_the_navigation_is_a_menu_that_works_by_mouse_and_keyboard(
    live_server: LiveServer, browser: Browser
):
    with watched_page(browser, MOBILE) as page:
        sign_in(page, live_server, "pmo")
        menu = page.get_by_role("button", name="Menu")
        admin = page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")
        expect(menu).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(admin).to_be_hidden()
        assert _fits(page)

        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(admin).to_be_visible()
        box = admin.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= MOBILE["width"]
        assert _fits(page)
        page.keyboard.press("Escape")  # closes, and the focus is back on the button
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(admin).to_be_hidden()
        expect(menu).to_be_focused()

        page.keyboard.press("Enter")  # the keyboard alone: open, walk to Admin, follow it
        expect(menu).to_have_attribute("aria-expanded", "true")
        for _ in range(12):
            if page.evaluate("document.activeElement.textContent.trim()") == "Admin":
                break
            page.keyboard.press("Tab")
        expect(admin).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/admin/users$"))

        page.get_by_role("button", name="Menu").click()  # a click outside closes it
        page.mouse.click(200, 700)
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")

    with watched_page(browser, DESKTOP) as page:  # on a desk the links are all there, no menu button
        sign_in(page, live_server, "pmo")
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")).to_be_visible()


def test_no_page_of_any_role_scrolls_sideways_on_a_phone(live_server: LiveServer, browser: Browser):
    instance = start_intake(live_server, key="PRJ-PHONE")
    wide: list[str] = []
    for user in ROLES:
        with watched_page(browser, MOBILE) as page:
            sign_in(page, live_server, user)
            links = page.locator(".topbar a[href^='/']")
            paths = {links.nth(i).get_attribute("href") or "/" for i in range(links.count())}
            paths |= {"/notifications", "/requests/new", f"/requests/{instance['id']}"}
            visited = 0
            for path in sorted(paths):
                response = page.goto(live_server.url + path)
                if response is None or response.status >= 400:
                    continue
                visited += 1
                page.wait_for_load_state("networkidle")
                if not _fits(page):
                    width = page.evaluate("document.documentElement.scrollWidth")
                    wide.append(f"{user} {path}: {width} px wide")
                if page.get_by_role("button", name="Menu").is_visible():
                    page.get_by_role("button", name="Menu").click()
                    if not _fits(page):
                        wide.append(f"{user} {path}: wider than the phone with the menu open")
                    page.keyboard.press("Escape")
            assert visited >= 5, (user, paths)
    assert wide == []


# ---------------------------------------------------------------- the inbox's counts in the navigation


def test_the_navigation_counts_open_and_overdue_work(live_server: LiveServer, page: Page):
    start_intake(live_server, key="PRJ-COUNT-1")
    late = start_intake(live_server, key="PRJ-COUNT-2")
    ctx = _engine(live_server)
    try:  # the second request's approval is past its due date
        with ctx.uow() as uow:
            pk = uow.session.scalar(select(ProcessInstance.id).where(ProcessInstance.uuid == late["id"]))
            uow.session.execute(
                update(HumanTask).where(HumanTask.instance_id == pk).values(due_at=ctx.clock.now() - timedelta(hours=3))
            )
            uow.commit()
    finally:
        ctx.db.dispose()

    sign_in(page, live_server, "alice")
    inbox = page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Inbox"))
    expect(inbox).to_have_text(re.compile(r"^Inbox\s*2\s*open\s*· 1 overdue$"))
    expect(page.locator("#task-count")).to_contain_text("2")  # the inbox lists as many as the link counts

    page.goto(live_server.url + "/tasks?due=overdue")
    open_task(page, "IT Manager approval")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_contain_text("Done")
    expect(inbox).to_have_text(re.compile(r"^Inbox\s*1\s*open$"))  # nothing overdue any more

    page.goto(live_server.url + "/requests")  # every page's navigation carries the counts
    expect(inbox).to_have_text(re.compile(r"^Inbox\s*1\s*open$"))


# ---------------------------------------------------------------- notifications


def test_notifications_are_links_that_look_clickable_and_mark_themselves_read(live_server: LiveServer, page: Page):
    started = start_intake(live_server, key="PRJ-BELL")
    task_id = started["open_tasks"][0]["id"]
    ctx = _engine(live_server)
    try:
        with ctx.uow() as uow:
            for who in ("bob", "carol"):
                text = f"{who} mentioned you on PRJ-BELL"
                bell.notify(uow.session, "alice", "mention", text, f"/tasks/{task_id}", at=ctx.clock.now())
            uow.commit()
    finally:
        ctx.db.dispose()

    sign_in(page, live_server, "alice")
    expect(page.locator(".topbar .bell .count")).to_have_text("2")
    page.locator(".topbar .bell").click()
    link = page.get_by_role("link", name=re.compile("bob mentioned you"))
    expect(link).to_have_attribute("href", f"/tasks/{task_id}")
    row = page.locator("ul.notifications > li", has=link)
    expect(row).to_have_class(re.compile(r"\bunread\b"))
    marker = row.locator(".marker")
    assert marker.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    assert link.evaluate("e => getComputedStyle(e).fontWeight") in ("600", "700")  # unread reads bold

    colour = link.evaluate("e => getComputedStyle(e).color")
    link.hover()
    assert link.evaluate("e => getComputedStyle(e).textDecorationLine") == "underline"
    assert link.evaluate("e => getComputedStyle(e).color") != colour
    assert page.evaluate("getComputedStyle(document.body).cursor") != "pointer"
    assert link.evaluate("e => getComputedStyle(e).cursor") == "pointer"
    page.mouse.move(0, 0)
    link.focus()
    assert link.evaluate("e => getComputedStyle(e).outlineStyle") != "none"

    link.click()  # opens its task, and is read from then on
    expect(page).to_have_url(live_server.url + f"/tasks/{task_id}")
    expect(page.locator(".topbar .bell .count")).to_have_text("1")
    page.goto(live_server.url + "/notifications")
    expect(page.locator("ul.notifications > li", has=page.get_by_role("link", name=re.compile("bob")))).to_have_class(
        re.compile(r"\bread\b")
    )
    ctx = _engine(live_server)
    try:
        with ctx.uow(write=False) as uow:
            read = uow.session.scalars(select(Notification.text).where(Notification.read_at.is_not(None))).all()
    finally:
        ctx.db.dispose()
    assert read == ["bob mentioned you on PRJ-BELL"]


# ---------------------------------------------------------------- the favicon


def test_every_page_has_a_favicon(live_server: LiveServer, page: Page):
    icon = httpx.get(live_server.url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for path in ("/", "/login"):
        page.goto(live_server.url + path)
        for href in page.locator("link[rel=icon]").evaluate_all("links => links.map(l => l.href)"):
            response = page.request.get(href)
            assert response.status == 200 and response.headers["content-type"].startswith("image/"), href
        assert page.locator("link[rel=icon][type='image/svg+xml']").count() == 1


# ---------------------------------------------------------------- separation of duties in project intake


def test_the_requester_cannot_approve_her_own_project_intake_and_another_it_manager_can(
    live_server: LiveServer, browser: Browser
):
    with watched_page(browser, DESKTOP) as alice:
        sign_in(alice, live_server, "alice")
        alice.goto(live_server.url + "/requests/new/project-intake")
        alice.fill("#f-title", "Laptop refresh for the service desk")
        alice.fill("#f-budget", "30000")
        alice.select_option("#f-department", "IT")
        alice.get_by_role("button", name=re.compile("Submit|Start")).click()
        expect(alice.locator(".flash")).to_contain_text("Your request is started")
        alice.goto(live_server.url + "/tasks")
        open_task(alice, "IT Manager approval")
        expect(alice.get_by_role("alert")).to_contain_text(
            "You started this request, so another member of IT Manager must decide on it (separation of duties)"
        )
        expect(alice.get_by_role("button", name="Approve")).to_have_count(0)
        task_url = alice.url

    with watched_page(browser, MOBILE) as frank:
        sign_in(frank, live_server, "frank")
        frank.goto(task_url)
        frank.get_by_role("button", name="Approve").click()
        expect(frank.locator(".flash")).to_contain_text("Done: IT Manager approval")
