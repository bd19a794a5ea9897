"""The designer's properties panel in Chromium: a designer builds a small process through the
panel (a user task in the Finance lane with a 2-field form and a 1-day SLA, a gateway with a
built condition), saves it with no problems, then dry-runs it down both branches."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Page, expect

from .conftest import LiveServer

KEY = "purchase-check"

# What a designer does with the palette and the context pad, done through the modeler's API:
# a pool with two lanes, start -> user task -> gateway -> two end events.
SKETCH = """() => {
  const modeler = window.pmoflowEditor.modeler;
  const m = modeler.get('modeling'), f = modeler.get('elementFactory'), r = modeler.get('elementRegistry');
  const root = modeler.get('canvas').getRootElement();
  const pool = m.createShape(f.createParticipantShape(), {x: 500, y: 250}, root);
  m.splitLane(pool, 2);
  const start = r.get('start');
  const task = m.appendShape(start, {type: 'bpmn:UserTask'}, {x: start.x + 150, y: start.y + 18});
  m.updateProperties(task, {id: 'review'});
  const gateway = m.appendShape(task, {type: 'bpmn:ExclusiveGateway'}, {x: task.x + 200, y: task.y + 40});
  m.updateProperties(gateway, {id: 'amount_check'});
  const small = m.appendShape(gateway, {type: 'bpmn:EndEvent'}, {x: gateway.x + 150, y: gateway.y + 25});
  const big = m.appendShape(gateway, {type: 'bpmn:EndEvent'}, {x: gateway.x + 150, y: gateway.y + 150});
  m.updateProperties(small, {id: 'small_done'});
  m.updateProperties(big, {id: 'board_done'});
  const flows = {};
  for (const flow of gateway.outgoing) flows[flow.target.id] = flow.id;
  return {lanes: r.filter((e) => e.type === 'bpmn:Lane').map((e) => e.id), flows};
}"""


def _sign_in(page: Page, url: str, user: str = "pmo") -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(tasks)?$"))


def _click(page: Page, element_id: str, x: float = 0.5) -> None:
    """Click a shape where a person would: bpmn-js needs real mouse events."""
    box = page.locator(f'.djs-element[data-element-id="{element_id}"]').first.bounding_box()
    assert box is not None, element_id
    page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] / 2)
    expect(page.locator("#pp-properties")).to_have_attribute("data-element", element_id)


def _select(page: Page, element_id: str) -> None:
    """Select a connection (thin lines are hard to hit with the mouse)."""
    page.evaluate("(id) => { const m = window.pmoflowEditor.modeler;"
                  " m.get('selection').select(m.get('elementRegistry').get(id)); }", element_id)
    expect(page.locator("#pp-properties")).to_have_attribute("data-element", element_id)


def _add_field(page: Page, index: int, kind: str, label: str, required: bool = False) -> None:
    page.click("#pp-add-field")
    row = page.locator(".pp-form-field").nth(index)
    row.locator("select[name=field-type]").select_option(kind)
    row.locator("input[name=field-label]").fill(label)
    row.locator("input[name=field-label]").press("Tab")
    if required:
        row.locator("input[name=field-required]").check()


def _dry_run(page: Page, amount: int) -> None:
    page.click("#dry-start")
    task = page.locator(".dry-task[data-element=review]")
    expect(task).to_contain_text("Finance")
    task.locator("input[name=amount]").fill(str(amount))
    task.locator("input[name=reason]").fill("laptops")
    task.locator(".dry-complete").click()


def test_a_designer_builds_saves_and_dry_runs_a_process(live_server: LiveServer, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/designer")
    page.fill("#new-key", KEY)
    page.fill("#new-name", "Purchase check")
    page.locator("form[action$='/designer/new'] button[type=submit]").click()
    page.wait_for_url(f"**/designer/drafts/{KEY}")
    expect(page.locator("body")).to_have_attribute("data-designer-ready", "true")
    made = page.evaluate(SKETCH)

    # lanes stand for groups picked from the existing ones
    _click(page, made["lanes"][0], x=0.04)
    page.select_option("select[name=lane-group]", "Finance")
    _click(page, made["lanes"][1], x=0.04)
    page.select_option("select[name=lane-group]", "IT Manager")

    # the user task: a name, a 2-field form (with a live preview) and a 1-day SLA
    _click(page, "review")
    page.fill("#pp-properties input[name=name]", "Review the purchase")
    page.locator("#pp-properties input[name=name]").press("Tab")
    page.click("#pp-add-form")
    _add_field(page, 0, "number", "Amount", required=True)
    _add_field(page, 1, "textfield", "Reason")
    expect(page.locator("#pp-form-preview input")).to_have_count(2)
    page.fill("input[name=sla-amount]", "1")
    page.locator("input[name=sla-amount]").press("Tab")
    page.select_option("select[name=sla-unit]", "D")

    # the gateway: the board branch gets a built condition, the other one is the default
    _select(page, made["flows"]["board_done"])
    page.fill("input[name=clause-var]", "amount")
    page.select_option("select[name=clause-op]", ">=")
    page.fill("input[name=clause-value]", "1000")
    page.locator("input[name=clause-value]").press("Tab")
    expect(page.locator("#pp-condition-expression")).to_have_text("amount >= 1000")
    _select(page, made["flows"]["small_done"])
    page.check("input[name=flow-default]")

    # reading the condition back shows it in the builder again
    _select(page, made["flows"]["board_done"])
    expect(page.locator("input[name=clause-var]")).to_have_value("amount")
    expect(page.locator("select[name=clause-op]")).to_have_value(">=")
    expect(page.locator("input[name=clause-value]")).to_have_value("1000")

    # save: validation is clean
    page.click("#save")
    expect(page.locator("#save-status")).to_have_class(re.compile("saved"))
    expect(page.locator("#problem-count")).to_have_text("0")
    saved = _draft(live_server, page)
    assert 'name="Finance"' in saved["bpmn"] and 'name="IT Manager"' in saved["bpmn"]
    assert '<pmoflow:sla due="P1D"' in saved["bpmn"]
    assert "amount &gt;= 1000" in saved["bpmn"]
    [form_file] = [n for n in saved["files"] if n.endswith(".form")]
    form = json.loads(saved["files"][form_file])
    assert [(c["type"], c["key"], c.get("validate", {}).get("required", False)) for c in form["components"]] == [
        ("number", "amount", True), ("textfield", "reason", False)]
    assert f'<pmoflow:form ref="{form["id"]}"' in saved["bpmn"]

    # dry run, big amount: the board branch; the path is marked on the diagram
    page.click("#dry-run-tab")
    page.fill("#dry-variables", '{"title": "Laptops"}')
    _dry_run(page, 5000)
    expect(page.locator("#dry-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#dry-path li")).to_have_text(["Start", "Review the purchase", "amount_check", "board_done"])
    expect(page.locator('.djs-element[data-element-id="board_done"]')).to_have_class(re.compile("pmoflow-path"))
    expect(page.locator('.djs-element[data-element-id="small_done"]')).not_to_have_class(re.compile("pmoflow-path"))
    expect(page.locator("#dry-variables-now")).to_contain_text('"amount": 5000')

    # and again with a small amount: the default branch
    _dry_run(page, 10)
    expect(page.locator("#dry-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#dry-path li").last).to_have_text("small_done")
    expect(page.locator('.djs-element[data-element-id="small_done"]')).to_have_class(re.compile("pmoflow-path"))
    expect(page.locator('.djs-element[data-element-id="board_done"]')).not_to_have_class(re.compile("pmoflow-path"))

    # a bad value is refused by the form, as it would be in the tasklist
    page.click("#dry-start")
    page.locator(".dry-task input[name=reason]").fill("no amount")
    page.locator(".dry-task .dry-complete").click()
    expect(page.locator("#dry-error")).to_contain_text("amount")
    assert errors == []
    # nothing ran for real: no instance of the draft exists
    token = live_server.token("pmo")
    listed = httpx.get(live_server.url + "/api/v1/process-instances", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and KEY not in listed.text


def _draft(live_server: LiveServer, page: Page) -> dict:
    response = page.request.get(f"{live_server.url}/designer/drafts/{KEY}/content")
    assert response.status == 200
    return response.json()


DECIDE_AND_WAIT = """() => {
  const modeler = window.pmoflowEditor.modeler;
  const m = modeler.get('modeling'), r = modeler.get('elementRegistry');
  const start = r.get('start');
  const rule = m.appendShape(start, {type: 'bpmn:BusinessRuleTask'}, {x: start.x + 150, y: start.y + 18});
  m.updateProperties(rule, {id: 'classify', name: 'Classify'});
  const timer = {type: 'bpmn:IntermediateCatchEvent', eventDefinitionType: 'bpmn:TimerEventDefinition'};
  const wait = m.appendShape(rule, timer, {x: rule.x + 200, y: rule.y + 40});
  m.updateProperties(wait, {id: 'cool_off', name: 'Cool off'});
  const end = m.appendShape(wait, {type: 'bpmn:EndEvent'}, {x: wait.x + 120, y: wait.y + 18});
  m.updateProperties(end, {id: 'done'});
}"""


def test_a_new_decision_and_a_timer_in_a_dry_run(live_server: LiveServer, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/designer")
    page.fill("#new-key", "classify-check")
    page.locator("form[action$='/designer/new'] button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-designer-ready", "true")
    page.evaluate(DECIDE_AND_WAIT)

    _click(page, "classify")
    page.once("dialog", lambda dialog: dialog.accept("risk_class"))
    page.click("#pp-new-decision")
    expect(page.locator("select[name=decision-ref]")).to_have_value("risk_class")
    _click(page, "cool_off")
    page.fill("input[name=timer-amount]", "2")
    page.locator("input[name=timer-amount]").press("Tab")
    page.select_option("select[name=timer-unit]", "H")
    page.click("#save")
    expect(page.locator("#problem-count")).to_have_text("0")
    assert '"PT2H"' in page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")

    page.click("#dry-run-tab")
    page.fill("#dry-variables", '{"input": "new vendor"}')
    page.click("#dry-start")
    expect(page.locator("#dry-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#dry-decisions")).to_contain_text('{"result":"todo"}')
    expect(page.locator('.djs-element[data-element-id="cool_off"]')).to_have_class(re.compile("pmoflow-waiting"))
    page.locator(".dry-fire[data-element=cool_off]").click()
    expect(page.locator("#dry-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#dry-path li")).to_have_text(["Start", "Classify", "Cool off", "done"])
    assert errors == []
