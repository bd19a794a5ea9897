"""The designer's properties panel in Chromium: a new decision and a timer, then a dry run that evaluates
the decision and fires the timer. The panel's lanes, forms, SLA, condition builder and two-branch dry runs
are exercised by issue #5's journey in test_designer_journey.py."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import LiveServer, live_server_of


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


def test_an_end_event_declares_the_outcome_requesters_see(live_server: LiveServer, page: Page):
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/designer")
    page.fill("#new-key", "outcome-check")
    page.locator("form[action$='/designer/new'] button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-designer-ready", "true")
    page.evaluate(
        """() => { const modeler = window.pmoflowEditor.modeler;
        const m = modeler.get('modeling'), start = modeler.get('elementRegistry').get('start');
        const end = m.appendShape(start, {type: 'bpmn:EndEvent'}, {x: start.x + 200, y: start.y + 18});
        m.updateProperties(end, {id: 'done', name: 'Done'}); }"""
    )
    _click(page, "done")
    pick = page.locator("select[name=end-outcome]")
    expect(pick).to_have_value("")
    pick.select_option("rejected")
    assert 'pmoflow:outcome="rejected"' in page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")
    pick.select_option("")
    assert "pmoflow:outcome" not in page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")


def test_the_process_owner_is_set_in_the_panel(live_server: LiveServer, page: Page):
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/designer")
    page.fill("#new-key", "owner-check")
    page.locator("form[action$='/designer/new'] button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-designer-ready", "true")
    page.fill("input[name=process-owner]", "erin")
    page.locator("input[name=process-owner]").press("Tab")
    assert 'pmoflow:owner="erin"' in page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")


def test_the_process_posts_to_chat_channels_set_in_the_panel(live_server: LiveServer, page: Page):
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/designer")
    page.fill("#new-key", "announce-check")
    page.locator("form[action$='/designer/new'] button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-designer-ready", "true")
    page.fill("textarea[name=process-announce]", "#pmo-decisions: decided, sla_breached\nit-ops: started")
    page.locator("textarea[name=process-announce]").press("Tab")
    xml = page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")
    assert '<pmoflow:announce channel="pmo-decisions" on="decided sla_breached" />' in xml
    assert '<pmoflow:announce channel="it-ops" on="started" />' in xml
    page.fill("textarea[name=process-announce]", "it-ops: started")
    page.locator("textarea[name=process-announce]").press("Tab")
    xml = page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)")
    assert "pmo-decisions" not in xml and xml.count("<pmoflow:announce") == 1


def test_the_process_panel_names_the_servers_chat_channels_before_anything_is_selected(
    database_url, tmp_path, page: Page
):
    """The panel opens on the process; the channel list arrives with the panel's options afterwards and must
    reach that first view too, not only an element selected later."""
    channels = {"PMOFLOW_CHAT_CHANNELS": "pmo-decisions=slack:https://hooks.slack.com/services/T0/B0/X"}
    with live_server_of(database_url, tmp_path, env_extra=channels) as server:
        _sign_in(page, server.url)
        page.goto(server.url + "/designer")
        page.fill("#new-key", "channels-listed")
        page.locator("form[action$='/designer/new'] button[type=submit]").click()
        expect(page.locator("body")).to_have_attribute("data-designer-ready", "true")
        expect(page.locator("textarea[name=process-announce]")).to_be_visible()
        expect(page.locator("#pp-properties")).to_contain_text("Channels here: pmo-decisions.")
