"""The monitor and the audit search as working tools, in Chromium at 1280 and 390 px: ticking instances for a bulk
retry, the version picker, the heat map's durations and colours, the audit presets and the links to each page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.definitions import deployments
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from tests.bpmn_samples import linear, script_task
from tests.factories import ADMIN, ALICE, BOB, BOT, deploy_intake_renamed

from .conftest import DESKTOP, MOBILE, LiveServer, live_server_of, watched_page
from .test_dashboard import shot
from .test_tasklist import sign_in

WIDTHS = [pytest.param(DESKTOP, id="1280"), pytest.param(MOBILE, id="390")]


def seed(database_url: str) -> dict[str, str]:
    """Two intakes decided at once (both steps waited 0 s), two waiting at IT Manager, three instances of
    `calc` failed at their script, and a second version of project-intake (renamed) to move to."""
    clock = FixedClock(datetime.now(UTC) - timedelta(days=1))
    ctx = EngineContext.from_settings(Settings(database_url=database_url), clock=clock)
    try:
        ids: dict[str, str] = {}
        for i in (1, 2):
            view = instances.start(
                ctx,
                BOT,
                "project-intake",
                business_key=f"DONE-{i}",
                variables={"title": f"Done {i}", "budget": 150_000},
            )
            completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve", "comment": "fine"})
            finance = instances.get(ctx, BOT, view.id).open_tasks[0].id
            completion.complete(ctx, BOB, finance, {"decision": "approve"})
            ids[f"DONE-{i}"] = view.id
        for i in (1, 2):
            view = instances.start(
                ctx, BOT, "project-intake", business_key=f"WAIT-{i}", variables={"title": f"Wait {i}", "budget": 9_000}
            )
            ids[f"WAIT-{i}"] = view.id
        calc = linear((script_task("compute", "total = budget * 2"), "compute"), pid="calc")
        deployments.deploy(ctx, ADMIN, [SourceFile("calc.bpmn", calc.encode())])
        for i in (1, 2, 3):
            ids[f"CALC-{i}"] = instances.start(ctx, BOT, "calc", business_key=f"CALC-{i}").id
        deploy_intake_renamed(ctx, "Project intake, second edition")
        return ids
    finally:
        ctx.db.dispose()


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    ids: dict[str, str] = {}
    with live_server_of(database_url, tmp_path, prepare=lambda url: ids.update(seed(url))) as server:
        yield server, ids


def fits(page: Page) -> list[str]:
    """Elements of the page's content wider than the window (the diagram pans inside its own box)."""
    return page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.djs-container'))
        .map(e => e.tagName + ' ' + (e.id || e.getAttribute('class') || ''))""")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_ticked_failed_instances_are_retried_and_each_reported(seeded, browser: Browser, viewport):
    server, ids = seeded
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "pmo")
        page.goto(server.url + "/monitor")
        button = page.locator("#b-picked")
        expect(button).to_be_disabled()  # nothing ticked yet
        for key in ("CALC-1", "CALC-2", "WAIT-1"):
            page.locator(f'input[data-pick][value^="{ids[key]}:"]').check()
        expect(button).to_have_text("Review the ticked (3)…")
        shot(page, f"monitor-ticked-{viewport['width']}.png")
        assert fits(page) == []
        page.select_option("#b-action", "retry")
        button.click()
        expect(page.locator("h1")).to_have_text("Retry 2 instances?")
        expect(page.locator(".bulk-count")).to_contain_text("You ticked 3 instances; 1 is skipped")
        expect(page.locator("li.skipped")).to_contain_text("Wait 1")
        expect(page.locator("li.skipped")).to_contain_text("only failed instances are retried")
        page.get_by_role("button", name="Yes, retry 2").click()
        expect(page.locator("h1")).to_have_text("Retry: 2 done, 0 failed")
        rows = page.locator("table.bulk-results tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator("tr.outcome-done")).to_have_count(2)
        expect(page.locator("tr.outcome-done").first).to_contain_text("now in error")  # budget is still missing
        expect(page.locator("tr.outcome-skipped")).to_contain_text("WAIT-1")
        shot(page, f"monitor-bulk-result-{viewport['width']}.png")
        assert fits(page) == []
        # ticking every instance of the page at once, then "all matching" states the count first
        page.goto(server.url + "/monitor?process=calc")
        page.locator("input[data-pick-all]:visible").check()  # the table's header; on a phone, the bar's
        expect(page.locator("#b-picked")).to_have_text("Review the ticked (3)…")
        page.select_option("#b-action", "cancel")
        page.fill("#b-reason", "clean-up")
        page.locator("#b-all").click()
        expect(page.locator("h1")).to_have_text("Cancel 3 instances?")
        expect(page.locator(".bulk-count")).to_contain_text("3 instances match the filter")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_moving_an_instance_offers_the_deployed_versions(seeded, browser: Browser, viewport):
    server, ids = seeded
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "pmo")
        page.goto(f"{server.url}/monitor/instances/{ids['WAIT-1']}")
        picker = page.locator("#m-version")
        expect(picker.locator("option")).to_have_count(1)
        expect(picker.locator("option")).to_contain_text("version 2 · Project intake, second edition · ")
        page.get_by_role("button", name="Review the move…").click()
        expect(page.locator("h1")).to_contain_text("Move to another version")
        expect(page.locator("#m-version option:checked")).to_contain_text("version 2 · Project intake, second edition")
        expect(page.locator("#plan-h")).to_have_text("Version 1 → 2")
        shot(page, f"migrate-{viewport['width']}.png")
        assert fits(page) == []
        # the bulk move's picker: the versions of the process the list is filtered by
        page.goto(f"{server.url}/monitor?process=project-intake&status=running")
        options = page.locator("#b-version option")
        expect(options).to_have_count(2)
        expect(options.first).to_contain_text("version 2 · Project intake, second edition")
        expect(options.nth(1)).to_contain_text("version 1 · Project intake · ")
        page.goto(f"{server.url}/monitor")
        expect(page.locator("#b-version")).to_be_disabled()
        expect(page.locator("#b-version option")).to_have_text("Filter by one process first")


@pytest.mark.parametrize("viewport", WIDTHS)
def test_the_heat_map_writes_durations_by_size_and_paints_no_step_longest_when_equal(
    seeded, browser: Browser, viewport
):
    server, _ = seeded
    with watched_page(browser, viewport) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, server, "pmo")
        page.goto(server.url + "/dashboard?process=project-intake")
        expect(page.locator(".diagram[data-mode=heat]")).to_have_attribute("data-ready", "1")
        badges = page.locator(".heat-badge")
        expect(badges.first).to_be_visible()
        texts = badges.all_text_contents()
        assert "median < 1 s" in " ".join(texts) and not any(" h" in t for t in texts), texts
        assert page.locator(".djs-element.heat-4").count() == 0  # both steps waited as long: none is "longest"
        assert page.locator(".djs-element.heat-0").count() >= 2
        expect(page.locator("#heat-legend")).to_contain_text("under a minute, so no step is coloured as slower")
        expect(page.locator("table.figures").nth(1)).not_to_contain_text("0.0 h")
        shot(page, f"dashboard-heat-{viewport['width']}.png")
        assert errors == []
        assert fits(page) == []


@pytest.mark.parametrize("viewport", WIDTHS)
def test_the_audit_search_hides_sign_ins_until_asked_and_links_to_each_page(seeded, browser: Browser, viewport):
    server, ids = seeded
    with watched_page(browser, viewport) as page:
        sign_in(page, server, "audrey")
        page.goto(server.url + "/audit")
        expect(page.locator(".audit-presets a[aria-current=page]")).to_have_text("All but sign-ins")
        rows = page.locator("#audit-results tbody tr")
        expect(rows.first).to_be_visible()
        expect(page.locator("#audit-results .badge.tag", has_text="login")).to_have_count(0)
        expect(page.locator("#preset-note")).to_contain_text("Sign-ins are hidden")
        shot(page, f"audit-{viewport['width']}.png")
        assert fits(page) == []
        page.get_by_role("link", name="Security (sign-ins)").click()
        expect(page.locator("#audit-results .badge.tag", has_text="login").first).to_be_visible()
        assert page.locator("#audit-results tbody tr").count() == page.locator(".badge.tag", has_text="log").count()
        # decisions: the person, the task and the decision table each lead to their page
        page.get_by_role("link", name="Decisions").click()
        page.locator("#audit-results a.decision-link").first.click()
        expect(page.locator("ol.audit-timeline li:target")).to_contain_text("matched")
        page.go_back()
        task = page.locator("#audit-results a.task-link").first
        name = task.text_content() or ""
        assert name in ("IT Manager approval", "Finance approval")
        task.click()
        expect(page.locator("h1")).to_contain_text(name)
        page.go_back()
        page.locator("#audit-results a.person", has_text="alice").first.click()
        expect(page.locator("#f-actor")).to_have_value("alice")
        expect(page.locator(".audit-presets a[aria-current=page]")).to_have_text("Everything")
    with watched_page(browser, viewport) as page:  # the monitor's instance page: tasks and decisions link too
        sign_in(page, server, "pmo")
        page.goto(f"{server.url}/monitor/instances/{ids['DONE-1']}")
        expect(page.locator("ul.decisions a.task-link").first).to_have_text("IT Manager approval")
        expect(page.locator("ul.decisions a.decision-link").first).to_be_visible()
        page.goto(f"{server.url}/monitor/instances/{ids['WAIT-1']}")
        assert fits(page) == []
        page.locator("a.task-link", has_text="IT Manager approval").click()
        expect(page.locator("h1")).to_contain_text("IT Manager approval")
