"""The designer in a real browser: template -> save (clean) -> publish v1, v2 -> an instance counted on the
diagram; an invalid draft marks each problem on its element; every MIWG diagram survives bpmn-js."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.designer.miwg import MIWG, lost

from .conftest import ROOT, LiveServer
from .test_tasklist import sign_in

SHOTS = "/tmp/designer-shots"          # screenshots to look at while developing; never committed


def wait_ready(page: Page) -> None:
    page.wait_for_function("document.body.dataset.designerReady === 'true'", timeout=20_000)


def watermark_is_visible(page: Page, canvas: str = "#canvas") -> None:
    mark = page.locator(f"{canvas} .bjs-powered-by").first
    expect(mark).to_be_visible()
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box and box["width"] > 0
    on_top = page.evaluate("""([x, y]) => {
        const el = document.elementFromPoint(x, y);
        if (!el || !el.closest('.bjs-powered-by')) {
            throw new Error('at the watermark: ' + (el ? el.outerHTML.slice(0, 200) : 'nothing') + ' ' + x + ',' + y);
        }
        return true;
    }""", [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top, "something covers the bpmn.io watermark"


def create_from_template(page: Page, server: LiveServer, key: str, template: str) -> None:
    page.goto(server.url + "/designer")
    page.fill("#new-key", key)
    page.fill("#new-name", key.replace("-", " ").capitalize())
    page.select_option("#new-template", template)
    page.click("form[action$='/designer/new'] button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/designer/drafts/{key}$"))
    wait_ready(page)


def save_now(page: Page) -> None:
    page.click("#save")
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved \d\d:\d\d UTC"), timeout=20_000)


def publish(page: Page, note: str) -> None:
    page.click("#publish")
    expect(page.locator("#publish-dialog")).to_be_visible()
    page.fill("#publish-note", note)
    page.click("#publish-confirm")
    page.wait_for_url(re.compile(r"/designer/processes/.+/versions/\d+$"), timeout=20_000)
    wait_ready(page)


def test_a_designer_builds_from_the_template_publishes_v2_and_sees_a_started_instance(
        live_server: LiveServer, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "vendor-onboarding", "cross-functional-handoff")
    watermark_is_visible(page)
    expect(page.locator("#properties-panel")).to_be_visible()
    save_now(page)
    expect(page.locator("#problems-none")).to_be_visible()
    expect(page.locator("#problem-count")).to_have_text("0")
    page.screenshot(path=f"{SHOTS}/editor.png")
    publish(page, "First cut from the handoff template")
    expect(page.locator(".badge.version")).to_contain_text("v1")

    page.click("form[action$='/edit'] button[type=submit]")
    wait_ready(page)
    page.evaluate("""() => {
        const m = pmoflowEditor.modeler, registry = m.get('elementRegistry');
        m.get('modeling').updateProperties(registry.get('prepare_handoff'), {name: 'Prepare the handoff pack'});
    }""")
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved"), timeout=20_000)   # autosaved
    publish(page, "Clearer name for the first task")
    expect(page.locator(".badge.version")).to_contain_text("v2")
    expect(page.locator(".version-meta")).to_contain_text("Clearer name for the first task")

    with httpx.Client(base_url=live_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {live_server.token('intake-bot')}"}) as bot:
        started = bot.post("/api/v1/process-instances", json={
            "process": "vendor-onboarding", "variables": {"title": "ERP go-live", "go_live_date": "2026-12-01"}})
    assert started.status_code == 201, started.text
    assert started.json()["version"] == 2
    page.reload()
    wait_ready(page)
    counts = page.locator('.pmo-counts[data-element="prepare_handoff"]')
    expect(counts).to_be_visible()
    expect(counts.locator(".pmo-count.waiting")).to_have_text("1")
    expect(counts.locator(".pmo-count.active")).to_have_text("1")
    expect(page.locator("table tr[data-element='prepare_handoff'] a")).to_have_count(1)
    watermark_is_visible(page)
    page.screenshot(path=f"{SHOTS}/version.png")

    page.goto(live_server.url + "/designer/processes/vendor-onboarding/diff?from=1&to=2")
    wait_ready(page)
    expect(page.locator("tr.changed[data-element='prepare_handoff']").first).to_contain_text("Prepare the handoff pack")
    assert page.locator("#canvas-after .djs-element.pmo-diff-changed[data-element-id='prepare_handoff']").count() == 1
    watermark_is_visible(page, "#canvas-after")
    page.screenshot(path=f"{SHOTS}/diff.png")

    page.goto(live_server.url + "/designer")
    row = page.locator("#process-vendor-onboarding")
    expect(row).to_contain_text("v2")
    expect(row.locator("li.version").first).to_contain_text("1 running")
    page.screenshot(path=f"{SHOTS}/library.png", full_page=True)
    assert errors == []


def test_an_invalid_draft_marks_each_problem_on_its_element(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "broken-handoff", "cross-functional-handoff")
    page.evaluate("""() => {
        const m = pmoflowEditor.modeler, registry = m.get('elementRegistry'), modeling = m.get('modeling');
        modeling.updateProperties(registry.get('lane_finance'), {name: 'Purchasing'});   // no such group
        modeling.removeElements([registry.get('prepare_handoff').outgoing[0]]);          // a dead end
    }""")
    save_now(page)
    problems = page.locator("#problems li")
    expect(problems.first).to_be_visible()
    marked = page.evaluate("""() => pmoflowEditor.state.problems.filter(p => p.element_id).map(p => p.element_id)""")
    codes = page.evaluate("() => pmoflowEditor.state.problems.map(p => p.code)")
    assert {"unknown_group", "dead_end", "unreachable"} <= set(codes)
    assert "prepare_handoff" in marked and "finance_sign_off" in marked
    for element in set(marked):
        shape = page.locator(f".djs-element.pmo-problem[data-element-id='{element}']")
        expect(shape).to_have_count(1)
        expect(page.locator(f".pmo-problem-badge[data-element='{element}']")).to_be_visible()
    page.locator("#problems button.problem[data-element='finance_sign_off']").first.click()
    selected = page.evaluate("() => pmoflowEditor.modeler.get('selection').get().map(e => e.id)")
    assert selected == ["finance_sign_off"]
    page.screenshot(path=f"{SHOTS}/invalid.png")
    page.click("#publish")
    expect(page.locator("#publish-problems")).to_contain_text("problem")
    expect(page.locator("#publish-confirm")).to_be_disabled()


def test_a_second_editor_is_refused_and_keeps_their_changes(live_server: LiveServer, page: Page, browser):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "shared-draft", "project-intake")
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        sign_in(other, live_server, "pmo")
        other.goto(live_server.url + "/designer/drafts/shared-draft")
        wait_ready(other)
        page.evaluate("""() => pmoflowEditor.modeler.get('modeling').updateProperties(
            pmoflowEditor.modeler.get('elementRegistry').get('it_manager_approval'), {name: 'First editor'})""")
        save_now(page)
        other.evaluate("""() => pmoflowEditor.modeler.get('modeling').updateProperties(
            pmoflowEditor.modeler.get('elementRegistry').get('it_manager_approval'), {name: 'Second editor'})""")
        other.click("#save")
        expect(other.locator("#conflict")).to_be_visible(timeout=20_000)
        expect(other.locator("#conflict-message")).to_contain_text("pmo saved this draft")
        kept = other.evaluate("() => pmoflowEditor.modeler.get('elementRegistry').get('it_manager_approval')"
                              ".businessObject.name")
        assert kept == "Second editor"                                        # nothing lost in the browser
        other.screenshot(path=f"{SHOTS}/conflict.png")
    finally:
        other.context.close()


def test_the_decision_table_editor_opens_a_draft_table_and_saves_it(live_server: LiveServer, page: Page, tmp_path):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "intake-copy", "project-intake")
    extra = tmp_path / "change-risk.dmn"
    extra.write_text((ROOT / "workflows" / "change-risk.dmn").read_text())
    page.set_input_files("#add-file", str(extra))                          # import a .dmn into the draft
    expect(page.locator("#files a[href$='change-risk.dmn']")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved"), timeout=20_000)
    page.click("#files a[href$='approval-tier.dmn']")
    wait_ready(page)
    expect(page.locator(".tjs-table, .dmn-decision-table-container").first).to_be_visible()
    expect(page.locator("#used-by")).to_contain_text("approval_tier")
    expect(page.locator("#used-by a").first).to_be_visible()
    expect(page.locator(".hit-policy")).to_contain_text("Unique")
    page.evaluate("() => pmoflowDmn.dmnJS.getActiveViewer().get('modeling').editHitPolicy('FIRST', undefined)")
    expect(page.locator(".hit-policy")).to_contain_text("First")
    page.click("#save")
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved"), timeout=20_000)
    watermark_is_visible(page, "#dmn-canvas")
    page.screenshot(path=f"{SHOTS}/dmn.png")
    exported = page.request.get(live_server.url + "/designer/drafts/intake-copy/export?file=approval-tier.dmn")
    assert 'hitPolicy="FIRST"' in exported.text()
    for kept in ("<pmoflow:tests>", '<pmoflow:test id="', '<pmoflow:input name="budget">',
                 '<pmoflow:expect name="tier">'):     # the decision's test table survives dmn-js
        assert kept in exported.text(), kept


@pytest.mark.skipif(not MIWG, reason="the MIWG corpus is not on this machine")
def test_every_miwg_diagram_survives_the_modeler_round_trip(live_server: LiveServer, page: Page):
    if not live_server.database_url.startswith("sqlite"):
        pytest.skip("the round trip does not depend on the database; it runs once")
    sign_in(page, live_server, "pmo")
    failures = {}
    for path in MIWG:
        key = f"miwg-{path.stem}"
        page.goto(live_server.url + "/designer")
        page.set_input_files("#import-files", str(path))
        page.fill("#import-key", key)
        page.click("form[action$='/designer/import'] button[type=submit]")
        expect(page).to_have_url(re.compile(rf"/designer/drafts/{re.escape(key)}$"))
        wait_ready(page)
        assert page.evaluate("() => pmoflowEditor.save()"), path.name       # bpmn-js's own saveXML, stored
        exported = page.request.get(f"{live_server.url}/designer/drafts/{key}/export").body()
        assert b"bpmn" in exported
        missing = lost(path.read_bytes(), exported)
        if missing:
            failures[path.name] = missing[:5]
    assert failures == {}
