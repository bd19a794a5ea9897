"""The designer for people who are not programmers (issue #16): canvas controls (zoom, fit, overview), the user
task in the palette, names instead of ids, help on every panel field, lanes without elements on their
boundaries, form files named after their task, a decision table editor that checks and saves as you type
like the diagram editor, and a phone that gets the read-only diagram."""

from __future__ import annotations

import re

from playwright.sync_api import ConsoleMessage, Page, expect

from .conftest import MOBILE, LiveServer, watched_page
from .test_designer import SHOTS, create_from_template, wait_ready
from .test_tasklist import sign_in


def viewbox(page: Page) -> dict:
    return page.evaluate(
        "() => { const b = pmoflowEditor.modeler.get('canvas').viewbox();"
        " return {x: b.x, y: b.y, width: b.width, height: b.height, scale: b.scale}; }"
    )


def console_messages(page: Page) -> list[str]:
    """Every console message of the page from now on (the missing favicon, owned by the shell, left out)."""
    found: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if not message.location.get("url", "").endswith("/favicon.ico"):
            found.append(f"{message.type}: {message.text}")

    page.on("console", seen)
    return found


# ---------------------------------------------------------------- the decision table editor


def cell(page: Page, element_id: str):
    return page.locator(f'#dmn-canvas td[data-element-id="{element_id}"]')


def test_the_decision_table_checks_as_you_type_saves_by_itself_and_keeps_the_draft(live_server: LiveServer, page: Page):
    warnings = console_messages(page)
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "tiers", "project-intake")
    page.click("#files a[href$='approval-tier.dmn']")
    wait_ready(page)
    expect(page.locator("#problems")).to_contain_text("No problems in this file")
    expect(page.locator(".view-drd-button")).to_have_count(0)  # the "Requirements diagram" tab does it
    expect(page.locator("#dmn-views")).to_contain_text("Requirements diagram")

    budget = cell(page, "InputEntry_tier_1_budget")
    with page.expect_request(re.compile(r"/designer/drafts/tiers/validate$")):
        # what the cell's editor does on input (typing goes through dmn-js's FEEL editor, CodeMirror, whose
        # injected <style> the strict CSP refuses: a separate matter)
        page.evaluate(
            """() => { const v = pmoflowDmn.dmnJS.getActiveViewer();
            const cell = v.get('elementRegistry').get('InputEntry_tier_1_budget');
            v.get('modeling').editCell(cell.businessObject, '< 50000 <<>>'); }"""
        )
        expect(page.locator("#save-status")).to_have_text("Unsaved changes…")
    problem = page.locator("#problems li").first
    expect(problem).to_contain_text("rule 1", timeout=10_000)
    expect(problem).to_contain_text("input 'Budget'")
    expect(page.locator("#problem-count")).to_have_text("1")
    expect(budget).to_have_class(re.compile("pmo-cell-problem"))
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved \d\d:\d\d UTC"), timeout=10_000)
    page.screenshot(path=f"{SHOTS}/dmn-problem.png")

    page.reload()
    wait_ready(page)
    expect(cell(page, "InputEntry_tier_1_budget")).to_contain_text("< 50000 <<>>")
    expect(page.locator("#problems li").first).to_contain_text("rule 1")
    assert warnings == [], warnings


def test_typing_in_a_decision_table_cell_runs_without_a_csp_violation(live_server: LiveServer, page: Page):
    """The cell's FEEL editor (CodeMirror) mounts a <style> element: the editor's page allows that, and the
    page watcher (conftest) fails the test on any violation."""
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "typing", "project-intake")
    page.click("#files a[href$='approval-tier.dmn']")
    wait_ready(page)
    budget = cell(page, "InputEntry_tier_1_budget")
    budget.click()
    page.keyboard.press("End")
    page.keyboard.type(" <<>>")
    expect(budget).to_contain_text("<<>>")
    expect(page.locator("#problems li").first).to_contain_text("rule 1", timeout=10_000)


# ---------------------------------------------------------------- the canvas


def test_zoom_fit_and_the_overview_move_the_view(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "zooming", "project-intake")
    opened = viewbox(page)
    diagram = page.evaluate(
        "() => { const b = pmoflowEditor.modeler.get('canvas').getActiveLayer().getBBox();"
        " return {x: b.x, y: b.y, width: b.width, height: b.height}; }"
    )
    # fitted on open: the whole diagram is in view
    assert opened["x"] <= diagram["x"] and opened["x"] + opened["width"] >= diagram["x"] + diagram["width"]
    assert opened["y"] <= diagram["y"] and opened["y"] + opened["height"] >= diagram["y"] + diagram["height"] - 1
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    zoomed = viewbox(page)
    assert zoomed["scale"] > opened["scale"] * 1.3
    expect(page.locator("#zoom-reset")).to_have_text(f"{round(zoomed['scale'] * 100)}%")
    page.get_by_role("button", name="Zoom out").click()
    assert viewbox(page)["scale"] < zoomed["scale"]
    page.locator("#zoom-reset").click()  # named by the zoom it shows
    assert abs(viewbox(page)["scale"] - 1) < 0.01
    expect(page.locator("#zoom-reset")).to_have_text("100%")
    page.get_by_role("button", name="Fit").click()
    assert abs(viewbox(page)["scale"] - opened["scale"]) < 0.01

    expect(page.locator("#minimap")).to_be_hidden()
    page.get_by_role("button", name="Overview").click()
    expect(page.get_by_role("button", name="Overview")).to_have_attribute("aria-pressed", "true")
    overview = page.locator("#minimap svg")
    expect(overview).to_be_visible()
    assert page.locator("#minimap use").get_attribute("href").startswith("#pmo-layer-")
    page.locator("#zoom-reset").click()  # named by the zoom it shows
    before = viewbox(page)
    box = overview.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)  # towards the right end
    after = viewbox(page)
    assert after["x"] > before["x"] + 50 and abs(after["scale"] - before["scale"]) < 0.01
    page.wait_for_function(  # the overview redraws its frame on the next animation frame
        "(x) => Math.abs(parseFloat(document.querySelector('#minimap .minimap-view')?.getAttribute('x')) - x) < 1",
        arg=after["x"],
        timeout=5_000,
    )
    page.screenshot(path=f"{SHOTS}/canvas-controls.png")
    page.reload()
    wait_ready(page)
    expect(page.locator("#minimap")).to_be_visible()  # remembered


def test_the_palette_user_task_lands_in_view_with_its_context_pad(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "palette", "")
    entry = page.locator(".djs-palette .entry.bpmn-icon-user-task")
    expect(entry).to_be_visible()
    assert "User task" in (entry.get_attribute("title") or "")
    canvas = page.locator("#canvas").bounding_box()
    entry.click()
    x, y = canvas["x"] + canvas["width"] - 30, canvas["y"] + canvas["height"] / 2  # at the right edge
    page.mouse.move(x - 5, y)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    tasks = page.evaluate(
        "() => pmoflowEditor.modeler.get('elementRegistry').filter(e => e.type === 'bpmn:UserTask').map(e => e.id)"
    )
    assert len(tasks) == 1
    pad = page.locator(".djs-context-pad.open")
    expect(pad).to_be_visible()
    pad_box = pad.bounding_box()
    task_box = page.locator(f'.djs-element[data-element-id="{tasks[0]}"]').first.bounding_box()
    for inner in (pad_box, task_box):  # the task and its context pad are inside the canvas, not cut off
        assert inner["x"] >= canvas["x"] and inner["x"] + inner["width"] <= canvas["x"] + canvas["width"], inner
    page.screenshot(path=f"{SHOTS}/palette-user-task.png")


def test_a_pool_added_at_the_edge_is_brought_into_view(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "pooled", "project-intake")
    page.evaluate(
        """() => { const m = pmoflowEditor.modeler, c = m.get('canvas'), v = c.viewbox();
        const pool = m.get('elementFactory').createParticipantShape({type: 'bpmn:Participant'});
        const shape = m.get('modeling').createShape(pool, {x: v.x + v.width + 200, y: v.y + v.height / 2},
            c.getRootElement());
        m.get('selection').select(shape); }"""
    )
    view = viewbox(page)
    pool = page.evaluate(
        "() => { const s = pmoflowEditor.modeler.get('selection').get()[0];"
        " return {x: s.x, y: s.y, width: s.width, height: s.height}; }"
    )
    assert view["x"] <= pool["x"] and pool["x"] + pool["width"] <= view["x"] + view["width"]
    assert view["y"] <= pool["y"] and pool["y"] + pool["height"] <= view["y"] + view["height"]
    canvas = page.locator("#canvas").bounding_box()
    pad = page.locator(".djs-context-pad.open").bounding_box()
    assert pad and pad["x"] + pad["width"] <= canvas["x"] + canvas["width"]


# ---------------------------------------------------------------- phones


def test_a_phone_is_told_the_designer_needs_a_larger_screen_and_gets_the_diagram(live_server: LiveServer, browser):
    with watched_page(browser) as desktop:
        sign_in(desktop, live_server, "pmo")
        create_from_template(desktop, live_server, "on-the-go", "project-intake")
        page_note = desktop.locator(".small-screen-note")
        desktop.goto(live_server.url + "/designer/drafts/on-the-go/dmn/approval-tier.dmn")
        wait_ready(desktop)
        expect(page_note).to_be_hidden()
    with watched_page(browser, MOBILE) as phone:
        sign_in(phone, live_server, "pmo")
        phone.goto(live_server.url + "/designer/drafts/on-the-go")
        wait_ready(phone)
        expect(phone.get_by_role("heading", name="The designer needs a larger screen")).to_be_visible()
        expect(phone.locator("#phone-canvas .djs-element[data-element-id='it_manager_approval']")).to_be_visible()
        expect(phone.locator(".djs-palette")).to_have_count(0)  # no editor at all
        expect(phone.locator("#canvas")).to_be_hidden()
        expect(phone.locator("#publish")).to_be_hidden()
        expect(phone.locator("#save")).to_be_hidden()
        # the designer's part of the page fits (the navigation above it belongs to the page shell)
        fits = phone.evaluate(
            """() => [...document.querySelectorAll('.designer-editor, .designer-editor *')]
                .filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > 391)
                .map(e => e.tagName + '#' + e.id + '.' + e.className)"""
        )
        assert fits == [], fits
        phone.screenshot(path=f"{SHOTS}/designer-phone.png", full_page=True)
        phone.goto(live_server.url + "/designer/drafts/on-the-go/dmn/approval-tier.dmn")
        wait_ready(phone)
        expect(phone.get_by_role("note")).to_contain_text("needs a screen at least 720 pixels wide")


# ---------------------------------------------------------------- the panel


def select_shape(page: Page, element_id: str) -> None:
    box = page.locator(f'.djs-element[data-element-id="{element_id}"]').first.bounding_box()
    assert box is not None, element_id
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#pp-properties")).to_have_attribute("data-element", element_id)


ADD_TASKS = """() => {
  const m = pmoflowEditor.modeler, modeling = m.get('modeling'), start = m.get('elementRegistry').get('start');
  const one = modeling.appendShape(start, {type: 'bpmn:UserTask'}, {x: start.x + 160, y: start.y + 18});
  modeling.updateProperties(one, {id: 'Activity_1e95o03', name: 'Approve budget'});
  const two = modeling.appendShape(one, {type: 'bpmn:UserTask'}, {x: one.x + 200, y: one.y + 40});
  modeling.updateProperties(two, {id: 'Activity_0zz9xk1', name: 'Approve budget'});
  modeling.appendShape(two, {type: 'bpmn:UserTask'}, {x: two.x + 200, y: two.y + 40});
}"""


def test_the_panel_names_elements_forms_and_explains_its_fields(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "budget", "")
    page.evaluate(ADD_TASKS)
    heading = page.locator("#pp-heading")
    expect(heading).to_have_text("Process “Budget”")  # the diagram itself: the process's name, not its id
    expect(page.locator("#pp-properties .pp-id")).to_have_text("id budget")
    select_shape(page, "Activity_1e95o03")
    expect(heading).to_have_text("User task “Approve budget”")
    expect(page.locator("#pp-properties .pp-id")).to_have_text("id Activity_1e95o03")  # secondary

    # every field says what it is for, to screen readers too
    fields = page.locator("#pp-properties .pp-field :is(input, select, textarea)")
    assert fields.count() > 3
    for i in range(fields.count()):
        control = fields.nth(i)
        described = control.get_attribute("aria-describedby")
        assert described, control.evaluate("e => e.outerHTML")
        expect(page.locator(f"#{described}")).not_to_be_empty()
    name_help = page.locator("#pp-properties input[name=name]").get_attribute("aria-describedby")
    expect(page.locator(f"#{name_help}")).to_contain_text("inbox")

    page.click("#pp-add-form")  # named after the task, unique in the draft
    select_shape(page, "Activity_0zz9xk1")
    page.click("#pp-add-form")
    unnamed = page.evaluate(
        "() => pmoflowEditor.modeler.get('elementRegistry')"
        ".filter(e => e.type === 'bpmn:UserTask' && !e.businessObject.name)[0].id"
    )
    select_shape(page, unnamed)
    expect(heading).to_have_text("User task (no name yet)")
    page.click("#pp-add-form")
    files = page.evaluate("() => Object.keys(pmoflowEditor.state.files).sort()")
    slug = unnamed.lower().replace("_", "-")
    assert files == sorted(["approve-budget-form.form", "approve-budget-form-2.form", f"{slug}-form.form"])
    refs = page.evaluate(
        "() => pmoflowEditor.modeler.get('elementRegistry').filter(e => e.type === 'bpmn:UserTask')"
        ".map(e => e.businessObject.extensionElements.values[0].ref).sort()"
    )
    assert refs == sorted(["approve-budget-form", "approve-budget-form-2", f"{slug}-form"])
    page.screenshot(path=f"{SHOTS}/panel-names.png")


# ---------------------------------------------------------------- lanes

CROSSING = """() => {
  const r = pmoflowEditor.modeler.get('elementRegistry');
  const lanes = r.filter(e => e.type === 'bpmn:Lane' && !(e.children || []).some(c => c.type === 'bpmn:Lane'));
  return r.filter(e => e.businessObject.$instanceOf('bpmn:FlowNode') && !e.waypoints && !e.labelTarget
                    && e.type !== 'bpmn:BoundaryEvent').map(e => {
    const inside = lanes.filter(l => l.y <= e.y && e.y + e.height <= l.y + l.height
                                  && l.x <= e.x && e.x + e.width <= l.x + l.width);
    return inside.length === 1 ? null : e.id + ' at y ' + e.y + '-' + (e.y + e.height) + ', lanes '
      + lanes.map(l => l.y + '-' + (l.y + l.height)).join(' ');
  }).filter(Boolean);
}"""


def select_first(page: Page, kind: str) -> None:
    """Select the first element of a kind (a pool's or lane's middle is covered by what is drawn in it)."""
    page.evaluate(
        "kind => { const m = pmoflowEditor.modeler;"
        " m.get('selection').select(m.get('elementRegistry').filter(e => e.type === kind)[0]); }",
        kind,
    )


def test_dividing_a_pool_into_lanes_leaves_no_element_on_a_boundary(live_server: LiveServer, page: Page):
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, "laned", "")
    page.evaluate(
        """() => { const m = pmoflowEditor.modeler, modeling = m.get('modeling'), r = m.get('elementRegistry');
        let last = r.get('start');
        for (const [type, dx] of [['bpmn:UserTask', 150], ['bpmn:ExclusiveGateway', 150], ['bpmn:EndEvent', 130]]) {
          last = modeling.appendShape(last, {type}, {x: last.x + last.width / 2 + dx, y: last.y + last.height / 2});
        } }"""
    )
    canvas = page.locator("#canvas").bounding_box()
    page.locator(".djs-palette .entry[data-action='create.participant-expanded']").click()
    x, y = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.mouse.move(x - 10, y, steps=3)
    page.mouse.move(x, y, steps=3)
    page.mouse.click(x, y)
    select_first(page, "bpmn:Participant")
    page.locator(".djs-context-pad [data-action='lane-divide-two']").click()
    assert page.evaluate(CROSSING) == []
    select_first(page, "bpmn:Lane")
    page.locator(".djs-context-pad [data-action='lane-insert-below']").click()
    assert page.evaluate(CROSSING) == []
    page.screenshot(path=f"{SHOTS}/lanes.png")
    page.click("#undo")  # one undo takes back the lane and the moves it made
    page.click("#undo")
    assert (
        page.evaluate("() => pmoflowEditor.modeler.get('elementRegistry').filter(e => e.type === 'bpmn:Lane').length")
        == 0
    )
