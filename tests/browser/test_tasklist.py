"""The approver's tasklist in a real browser: sign in, decide, hand over, parallel approval, duties."""

from __future__ import annotations

import io

import httpx
from playwright.sync_api import Browser, Page, expect

from engine.admin import users
from engine.core.config import Settings
from engine.core.context import EngineContext
from tests.engine.runtime.test_instances import FORM
from tests.engine.tasks.test_approvals import approval_process

from .conftest import DESKTOP, MOBILE, LiveServer, watched_page


def api(server: LiveServer, user: str) -> httpx.Client:
    """A system's client held across browser steps longer than gunicorn's keep-alive (2 s): a new connection per
    request, or a reused one can meet the server's close at the moment it is sent (RemoteProtocolError)."""
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.token(user)}"},
        timeout=30,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def start_intake(server: LiveServer, budget: int = 120_000, key: str = "PRJ-77") -> dict:
    with api(server, "intake-bot") as bot:
        response = bot.post(
            "/api/v1/process-instances",
            json={
                "process": "project-intake",
                "business_key": key,
                "variables": {
                    "title": "New CRM",
                    "budget": budget,
                    "department": "Sales",
                    "justification": "Replaces three spreadsheets",
                },
            },
        )
        assert response.status_code == 201, response.text
        return response.json()


def sign_in(page: Page, server: LiveServer, user: str, password: str = "demo") -> None:
    page.goto(server.url + "/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/tasks")


def open_task(page: Page, name: str) -> None:
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def test_alice_approves_and_bob_sees_it_arrive(live_server: LiveServer, page: Page, browser: Browser):
    start_intake(live_server)
    sign_in(page, live_server, "alice")
    expect(page.locator("tbody#rows")).to_contain_text("PRJ-77")
    expect(page.locator("tbody#rows")).to_contain_text("On track")
    open_task(page, "IT Manager approval")
    expect(page.locator("dl.vars")).to_contain_text("120,000")
    expect(page.locator("dl.vars")).to_contain_text("Replaces three spreadsheets")
    page.fill("#f-comment", "Fits the CRM roadmap")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_contain_text("Done: IT Manager approval")

    with watched_page(browser, MOBILE) as bob:
        sign_in(bob, live_server, "bob")
        expect(bob.locator("tbody#rows")).to_contain_text("Finance approval")
        open_task(bob, "Finance approval")
        expect(bob.locator("ol.path")).to_contain_text("alice")
        expect(bob.locator("ol.path")).to_contain_text("Fits the CRM roadmap")
        assert bob.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]


def test_a_task_arrives_in_an_open_inbox_without_a_reload(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "alice")
    expect(page.locator("tbody#rows")).to_contain_text("Nothing waits for you")
    page.evaluate("document.getElementById('rows').dataset.arrived = 'no'")
    start_intake(live_server, key="PRJ-LIVE")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("tbody#rows")).to_contain_text("PRJ-LIVE", timeout=10_000)
    assert page.evaluate("document.getElementById('rows').dataset.arrived") == "no"  # same page, no reload


def test_the_navigation_count_follows_the_inbox_refresh(live_server: LiveServer, page: Page):
    """The count comes from the server with the rows (engine.tasks.inbox.counts), not from counting them: a
    filter that hides the new task leaves the rows empty while the navigation says 1 open."""
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/tasks?q=no-such-request")
    expect(page.locator("#inbox-count")).to_have_text("0 open")
    page.evaluate("document.getElementById('rows').dataset.arrived = 'no'")
    start_intake(live_server, key="PRJ-COUNT")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#inbox-count")).to_have_text("1 open", timeout=10_000)
    expect(page.locator("tbody#rows")).to_contain_text("Nothing waits for you")
    assert page.locator("#inbox-count").count() == 1
    assert page.evaluate("document.getElementById('rows').dataset.arrived") == "no"  # same page, no reload


def test_a_reject_without_a_comment_is_refused_on_the_field(live_server: LiveServer, page: Page):
    start_intake(live_server, budget=10_000, key="PRJ-R")
    sign_in(page, live_server, "alice")
    open_task(page, "IT Manager approval")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#comment-error")).to_have_text("required")
    expect(page.locator(".field.invalid textarea#f-comment")).to_be_visible()
    page.fill("#f-comment", "Not this year")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".flash")).to_contain_text("Done")


def deploy_board(server: LiveServer, duties: str = "") -> None:
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url))
    try:
        for name in ("ann", "ben", "cat"):
            users.create_user(ctx, name, "demo", ["Board"], ["approver"])
    finally:
        ctx.db.dispose()
    files = [
        (
            "files",
            ("board.bpmn", io.BytesIO(approval_process('group="Board" rule="count" count="2"', duties).encode())),
        ),
        ("files", ("decide.form", io.BytesIO(FORM.encode()))),
    ]
    with api(server, "pmo") as admin:
        assert admin.post("/api/v1/process-definitions", files=files).status_code == 201


def approve_as(browser: Browser, server: LiveServer, user: str) -> None:
    with watched_page(browser, DESKTOP) as page:
        sign_in(page, server, user)
        open_task(page, "Board approval")
        page.get_by_role("button", name="Approve").click()
        expect(page.locator(".flash")).to_contain_text("Done")


def test_two_of_three_completes_after_the_second_approval(live_server: LiveServer, browser: Browser):
    deploy_board(live_server)
    with api(live_server, "intake-bot") as bot:
        instance = bot.post("/api/v1/process-instances", json={"process": "board_p"}).json()
        assert len(instance["open_tasks"]) == 3
        approve_as(browser, live_server, "ann")
        assert bot.get(f"/api/v1/process-instances/{instance['id']}").json()["status"] == "running"
        approve_as(browser, live_server, "cat")
        done = bot.get(f"/api/v1/process-instances/{instance['id']}").json()
    assert done["status"] == "completed" and done["variables"]["decision"] == "approve"


def test_the_initiator_is_refused_on_their_own_request(live_server: LiveServer, page: Page):
    deploy_board(live_server, duties="<pmoflow:separationOfDuties/>")
    with api(live_server, "ann") as ann:
        assert ann.post("/api/v1/process-instances", json={"process": "board_p"}).status_code == 201
    sign_in(page, live_server, "ann")
    open_task(page, "Board approval")
    expect(page.get_by_role("alert")).to_contain_text("separation of duties")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
