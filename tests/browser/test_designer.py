"""The designer in a real browser: a second editor is refused, the decision table editor, every MIWG diagram
survives bpmn-js; helpers for the designer's pages. Issue #5's whole check (template -> panel -> dry runs ->
v2 -> an instance counted on the diagram; an invalid draft) is one journey in test_designer_journey.py."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.designer.miwg import MIWG, lost

from .conftest import ROOT, LiveServer, watched_page
from .test_tasklist import sign_in

SHOTS = "/tmp/designer-shots"  # screenshots to look at while developing; never committed


def wait_ready(page: Page) -> None:
    # a function, not an expression string: Playwright evaluates a string with eval, which the CSP refuses
    # `document.body` is null for a moment while the page is still loading, and a predicate that throws
    # ends the wait at once instead of being polled again
    page.wait_for_function("() => document.body?.dataset.designerReady === 'true'", timeout=20_000)


def watermark_is_visible(page: Page, canvas: str = "#canvas") -> None:
    mark = page.locator(f"{canvas} .bjs-powered-by").first
    expect(mark).to_be_visible()
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box and box["width"] > 0
    on_top = page.evaluate(
        """([x, y]) => {
        const el = document.elementFromPoint(x, y);
        if (!el || !el.closest('.bjs-powered-by')) {
            throw new Error('at the watermark: ' + (el ? el.outerHTML.slice(0, 200) : 'nothing') + ' ' + x + ',' + y);
        }
        return true;
    }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
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


def test_a_second_editor_is_refused_and_keeps_their_changes(live_server: LiveServer, page: Page, browser):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "shared-draft", "project-intake")
    with watched_page(browser) as other:
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
        kept = other.evaluate(
            "() => pmoflowEditor.modeler.get('elementRegistry').get('it_manager_approval').businessObject.name"
        )
        assert kept == "Second editor"  # nothing lost in the browser
        other.screenshot(path=f"{SHOTS}/conflict.png")


def test_the_decision_table_editor_opens_a_draft_table_and_saves_it(live_server: LiveServer, page: Page, tmp_path):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "intake-copy", "project-intake")
    extra = tmp_path / "change-risk.dmn"
    extra.write_text((ROOT / "workflows" / "change-risk.dmn").read_text())
    page.set_input_files("#add-file", str(extra))  # import a .dmn into the draft
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
    for kept in (
        "<pmoflow:tests>",
        '<pmoflow:test id="',
        '<pmoflow:input name="budget">',
        '<pmoflow:expect name="tier">',
    ):  # the decision's test table survives dmn-js
        assert kept in exported.text(), kept


# the shipped examples that carry a diagram (multi-instance collections, topics, candidates, boundary events)
EXAMPLES = [p for p in sorted((ROOT / "workflows" / "examples").glob("**/*.bpmn")) if b"BPMNShape" in p.read_bytes()]


@pytest.mark.skipif(not MIWG, reason="the MIWG corpus is not on this machine")
def test_every_miwg_diagram_survives_the_modeler_round_trip(live_server: LiveServer, page: Page):
    if not live_server.database_url.startswith("sqlite"):
        pytest.skip("the round trip does not depend on the database; it runs once")
    sign_in(page, live_server, "pmo")
    failures = {}
    for path in MIWG + EXAMPLES:
        key = f"{'miwg' if path in MIWG else 'example'}-{path.stem}"
        page.goto(live_server.url + "/designer")
        page.set_input_files("#import-files", str(path))
        page.fill("#import-key", key)
        page.click("form[action$='/designer/import'] button[type=submit]")
        expect(page).to_have_url(re.compile(rf"/designer/drafts/{re.escape(key)}$"))
        wait_ready(page)
        assert page.evaluate("() => pmoflowEditor.save()"), path.name  # bpmn-js's own saveXML, stored
        exported = page.request.get(f"{live_server.url}/designer/drafts/{key}/export").body()
        assert b"bpmn" in exported
        missing = lost(path.read_bytes(), exported)
        if missing:
            failures[path.name] = missing[:5]
    assert failures == {}
