"""The designer's SLA field is what runs: on a shipped workflow whose SLA is a boundary timer (project
intake's "SLA breached" on the IT Manager approval), the panel shows the timer's duration, and changing
it there, saved and published the way the browser does, changes the due date of the next instance."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from .conftest import LiveServer
from .test_designer import publish, save_now, wait_ready
from .test_designer_panel import _click
from .test_tasklist import sign_in

KEY, TASK, TIMER = "project-intake", "it_manager_approval", "it_manager_sla"
REQUEST = {"process": KEY, "variables": {"title": "New CRM", "budget": 120_000, "department": "Sales"}}


def _allowed_hours(server: LiveServer) -> int:
    """Start a request through the REST API: the hours its IT Manager approval is given (the live server runs
    on the wall clock, so the timer starts a few milliseconds after the task row is written)."""
    with httpx.Client(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {server.token('intake-bot')}"}
    ) as bot:
        started = bot.post("/api/v1/process-instances", json=REQUEST)
    assert started.status_code == 201, started.text
    [task] = [t for t in started.json()["open_tasks"] if t["element_id"] == TASK]
    return round(
        (datetime.fromisoformat(task["due_at"]) - datetime.fromisoformat(task["created_at"])) / timedelta(hours=1)
    )


def test_the_sla_field_shows_and_changes_the_boundary_timer_that_runs(live_server: LiveServer, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert _allowed_hours(live_server) == 48  # as shipped: var("approval_sla", "P2D")
    sign_in(page, live_server, "pmo")
    page.goto(f"{live_server.url}/designer/processes/{KEY}/versions/1")
    wait_ready(page)
    page.click("form[action$='/edit'] button[type=submit]")  # Edit as draft
    wait_ready(page)

    _click(page, TASK)
    expect(page.locator("#pp-sla-timer")).to_have_attribute("data-timer", TIMER)
    expect(page.locator("input[name=sla-amount]")).to_have_value("2")
    expect(page.locator("select[name=sla-unit]")).to_have_value("D")
    page.fill("input[name=sla-amount]", "3")
    page.locator("input[name=sla-amount]").press("Tab")
    xml = page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")
    assert re.search(rf'id="{TIMER}".*?var\("approval_sla", "P3D"\)', xml, re.S), xml
    assert "pmoflow:sla" not in xml  # nothing the engine would ignore
    save_now(page)
    publish(page, "IT Managers get three days")
    expect(page.locator(".badge.version")).to_contain_text("v2")

    assert _allowed_hours(live_server) == 72
    page.click("form[action$='/edit'] button[type=submit]")  # a draft of version 2 shows it too
    wait_ready(page)
    _click(page, TASK)
    expect(page.locator("input[name=sla-amount]")).to_have_value("3")
    assert errors == []
