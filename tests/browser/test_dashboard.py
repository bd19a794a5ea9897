"""The PMO dashboard and the monitor's instance page in Chromium, over a seeded run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.runtime import instances
from engine.tasks import completion
from tests.factories import ALICE, BOB, BOT

from .conftest import LiveServer, live_server_of
from .test_tasklist import sign_in

SHOTS = os.environ.get("PMOFLOW_SCREENSHOTS")  # a folder: save screenshots there to look at (never committed)


def seed(database_url: str) -> list[str]:
    """Eight intakes over the last six days (a clock in the past): three finished (one rejected), two past
    IT Manager at Finance, three still waiting at IT Manager, some of them past their two-day SLA."""
    clock = FixedClock(datetime.now(UTC) - timedelta(days=6))
    ctx = EngineContext.from_settings(Settings(database_url=database_url), clock=clock)
    try:
        started = []
        for i, budget in enumerate((10_000, 120_000, 20_000, 30_000, 40_000, 120_000, 150_000, 25_000), 1):
            started.append(
                instances.start(
                    ctx,
                    BOT,
                    "project-intake",
                    business_key=f"PRJ-{i}",
                    variables={"title": f"Project {i}", "budget": budget, "department": "Sales"},
                )
            )
            clock.advance(timedelta(hours=9))
        decisions = {0: ("approve", 5), 1: ("approve", 20), 2: ("reject", 3), 5: ("approve", 30), 6: ("approve", 8)}
        for n, (decision, wait) in decisions.items():
            clock.advance(timedelta(hours=wait))
            completion.complete(ctx, ALICE, started[n].open_tasks[0].id, {"decision": decision, "comment": "seeded"})
        clock.advance(timedelta(hours=6))
        finance = instances.get(ctx, BOT, started[5].id).open_tasks[0].id
        completion.complete(ctx, BOB, finance, {"decision": "approve"})
        return [v.id for v in started]
    finally:
        ctx.db.dispose()


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, list[str]]]:
    """A live server over the seeded run; seeded before the server starts, so its timer worker (on the real
    clock, for which the seeded SLA timers are long due) cannot interrupt a task the seeding is completing."""
    ids: list[str] = []
    with live_server_of(database_url, tmp_path, prepare=lambda url: ids.extend(seed(url))) as server:
        yield server, ids


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


def test_the_dashboard_renders_its_charts_and_heat_map(seeded: tuple[LiveServer, list[str]], page: Page):
    live_server, _ = seeded
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None
        ),
    )
    sign_in(page, live_server, "pmo")
    page.get_by_role("link", name="Monitor").click()
    expect(page.locator("h1")).to_contain_text("PMO dashboard")
    # the charts: bars drawn for the six instances, each a link to the instances behind it
    status_bars = page.locator("#chart-status svg a rect")
    expect(status_bars).to_have_count(2)  # completed and in progress (none in error or cancelled)
    assert page.locator("#chart-days svg rect").count() >= 2
    assert page.locator("#chart-cycle svg a rect").count() >= 1
    assert page.locator("#chart-groups svg a rect").count() >= 1
    # the heat map: bpmn-js drew the diagram and coloured the steps that have waiting times
    diagram = page.locator(".diagram[data-mode=heat]")
    expect(diagram).to_have_attribute("data-ready", "1")
    assert page.locator(".djs-element[class*='heat-']").count() >= 2
    badge = page.locator(".heat-badge").first
    expect(badge).to_be_visible()
    assert errors == []
    shot(page, "dashboard.png")
    # a number leads to the instances behind it
    page.locator("table.figures a", has_text="8").first.click()
    expect(page.locator("h1")).to_contain_text("Instances (8)")


def test_the_monitor_pages_fit_a_phone(seeded: tuple[LiveServer, list[str]], mobile_page: Page):
    live_server, ids = seeded
    sign_in(mobile_page, live_server, "pmo")
    for path, name in (
        ("/dashboard", "dashboard-phone.png"),
        (f"/monitor/instances/{ids[1]}", "instance-phone.png"),
        ("/monitor", "list-phone.png"),
    ):
        mobile_page.goto(live_server.url + path)
        shot(mobile_page, name)
        wide = mobile_page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.djs-container'))
            .map(e => e.tagName + ' ' + (e.id || e.getAttribute('class') || ''))""")
        assert wide == [], path  # the page's content fits (the diagram pans inside)


def test_the_instance_page_shows_the_path_on_the_diagram(seeded: tuple[LiveServer, list[str]], page: Page):
    live_server, ids = seeded
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server, "pmo")
    page.goto(f"{live_server.url}/monitor/instances/{ids[1]}")
    expect(page.locator(".diagram[data-mode=path]")).to_have_attribute("data-ready", "1")
    expect(page.locator(".djs-element.path-active[data-element-id=finance_approval]")).to_have_count(1)
    assert page.locator(".djs-element.path-visited[data-element-id=it_manager_approval]").count() == 1
    expect(page.get_by_text("Finance approval").first).to_be_visible()
    assert errors == []
    shot(page, "instance.png")
    page.goto(f"{live_server.url}/monitor?process=project-intake&status=running")
    expect(page.locator("table.monitor-list tbody tr")).to_have_count(5)
    shot(page, "list.png")
    page.fill("#b-reason", "seeded cleanup")
    page.get_by_role("button", name="Review all 5 matching…").click()
    expect(page.locator("h1")).to_contain_text("Cancel 5 instances?")
    shot(page, "bulk.png")
    page.goto(f"{live_server.url}/monitor/retention")
    shot(page, "retention.png")
