"""The designer's properties panel in Chromium: a new decision and a timer, then a dry run that evaluates
the decision and fires the timer. The panel's lanes, forms, SLA, condition builder and two-branch dry runs
are exercised by issue #5's journey in test_designer_journey.py."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import LiveServer


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
