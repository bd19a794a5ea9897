"""Issue #13's designer check in Chromium: the palette and the side panel draw what the engine runs.

A user task comes from the palette; an embedded sub-process with a boundary timer, a lane-less user
task with candidate users, a parallel multi-instance over a collection and a service task with a
topic are set up in the side panel. The draft saves with no problem, its XML carries what the engine
reads, the dry run plays it to the end (the sub-process entered and left, one task per item, the
worker's result given by hand), and it publishes.
"""

from __future__ import annotations

import re

from lxml import etree
from playwright.sync_api import Page, expect

from engine.spiff.namespaces import NS

from .conftest import LiveServer
from .test_designer import SHOTS, publish, save_now, wait_ready, watermark_is_visible
from .test_designer_journey import blank, click_shape, pad
from .test_tasklist import sign_in

KEY = "vendor-review"

# The layout only: shapes placed and connected through the modeler (where they are drawn is not the point
# here); every setting the engine reads is then made in the side panel, as a person does.
LAYOUT = """(taskId) => {
  const modeler = window.pmoflowEditor.modeler;
  const m = modeler.get('modeling'), r = modeler.get('elementRegistry'), f = modeler.get('elementFactory');
  const root = modeler.get('canvas').getRootElement();
  const start = r.get('start');
  const sub = m.createShape(f.createShape({type: 'bpmn:SubProcess', isExpanded: true}),
                            {x: start.x + 260, y: start.y + 18}, root);
  m.updateProperties(sub, {id: 'prepare', name: 'Prepare'});
  const inStart = m.createShape({type: 'bpmn:StartEvent'}, {x: sub.x + 50, y: sub.y + sub.height / 2}, sub);
  m.updateProperties(inStart, {id: 'prepare_start'});
  const check = m.appendShape(inStart, {type: 'bpmn:UserTask'}, {x: inStart.x + 130, y: inStart.y + 18}, sub);
  m.updateProperties(check, {id: 'check', name: 'Check quotes'});
  const inEnd = m.appendShape(check, {type: 'bpmn:EndEvent'}, {x: check.x + 170, y: check.y + 40}, sub);
  m.updateProperties(inEnd, {id: 'prepare_end'});
  m.connect(start, sub);
  const timer = {type: 'bpmn:BoundaryEvent', eventDefinitionType: 'bpmn:TimerEventDefinition'};
  const late = m.createShape(f.createShape(timer), {x: sub.x + 60, y: sub.y + sub.height}, sub, {attach: true});
  m.updateProperties(late, {id: 'late', name: 'Late'});
  const lateEnd = m.appendShape(late, {type: 'bpmn:EndEvent'}, {x: late.x + 40, y: late.y + 110});
  m.updateProperties(lateEnd, {id: 'too_late'});
  const review = r.get(taskId);
  m.updateProperties(review, {id: 'review', name: 'Review'});
  m.moveElements([review], {x: sub.x + sub.width + 120 - review.x, y: sub.y + sub.height / 2 - review.y - 40});
  m.connect(sub, review);
  const each = m.appendShape(review, {type: 'bpmn:UserTask'}, {x: review.x + 220, y: review.y + 40});
  m.updateProperties(each, {id: 'approve_each', name: 'Approve'});
  const sync = m.appendShape(each, {type: 'bpmn:ServiceTask'}, {x: each.x + 200, y: each.y + 40});
  m.updateProperties(sync, {id: 'sync', name: 'Sync ERP'});
  const done = m.appendShape(sync, {type: 'bpmn:EndEvent'}, {x: sync.x + 170, y: sync.y + 40});
  m.updateProperties(done, {id: 'done'});
  const canvas = modeler.get('canvas');
  canvas.zoom('fit-viewport', 'auto');
  const box = canvas.viewbox(), pad = 160 * box.width / box.outer.width;     // room for the palette
  canvas.viewbox({x: box.x - pad, y: box.y, width: box.width + pad, height: box.height});
}"""


def saved_xml(page: Page) -> etree._Element:
    return etree.fromstring(page.evaluate("window.pmoflowEditor.modeler.saveXML().then((r) => r.xml)").encode())


def draw(page: Page) -> None:
    """A user task from the palette, then the layout around it."""
    before = set(page.eval_on_selector_all(".djs-shape[data-element-id]", "els => els.map(e => e.dataset.elementId)"))
    page.click(".djs-palette .entry[data-action='create.user-task']")
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.7, steps=4)
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.7)
    after = set(page.eval_on_selector_all(".djs-shape[data-element-id]", "els => els.map(e => e.dataset.elementId)"))
    [made] = [i for i in after - before if not i.endswith("_label")]
    assert (
        page.evaluate("(id) => window.pmoflowEditor.modeler.get('elementRegistry').get(id).type", made)
        == "bpmn:UserTask"
    )
    page.evaluate(LAYOUT, made)
    blank(page)


def configure(page: Page) -> None:
    """Every setting through the side panel."""
    panel = page.locator("#pp-properties")
    click_shape(page, "late")
    expect(panel.locator(".pp-kind")).to_contain_text("Late")  # the name, not the id
    panel.locator("input[name=timer-amount]").fill("2")
    panel.locator("input[name=timer-amount]").press("Tab")
    panel.locator("select[name=timer-unit]").select_option("D")
    expect(panel.locator("input[name=event-interrupting]")).to_be_checked()

    pad(page, "replace")  # the replace menu offers every boundary kind
    offered = set(page.eval_on_selector_all(".djs-popup .entry", "els => els.map(e => e.dataset.id)"))
    assert {
        f"replace-with-{kind}-boundary"
        for kind in ("message", "signal", "error", "escalation", "conditional", "non-interrupting-timer")
    } <= offered, offered
    page.keyboard.press("Escape")

    click_shape(page, "prepare", y=0.1)
    expect(panel.locator("select[name=subprocess-kind]")).to_have_value("embedded")
    page.click("#pp-subprocess-expand")  # collapse, then expand again: the inside stays
    expect(panel.locator("#pp-subprocess-expand")).to_contain_text("Expand")
    page.click("#pp-subprocess-expand")
    expect(panel.locator("#pp-subprocess-expand")).to_contain_text("Collapse")
    pad(page, "replace")
    offered = set(page.eval_on_selector_all(".djs-popup .entry", "els => els.map(e => e.dataset.id)"))
    assert {"replace-with-event-subprocess", "replace-with-transaction", "toggle-parallel-mi"} <= offered, offered
    page.keyboard.press("Escape")

    click_shape(page, "review")
    expect(panel.locator("#pp-offered-to")).to_contain_text("the deployment's default")
    panel.locator("input[name=assign-users]").fill("alice, bob")
    panel.locator("input[name=assign-users]").press("Tab")
    expect(panel.locator("#pp-offered-to")).to_contain_text("alice, bob")

    click_shape(page, "approve_each")
    panel.locator("select[name=loop-kind]").select_option("parallel")
    panel.locator("input[name=mi-collection]").fill("reviewers")
    panel.locator("input[name=mi-collection]").press("Tab")
    panel.locator("input[name=mi-element]").fill("reviewer")
    panel.locator("input[name=mi-element]").press("Tab")
    panel.locator("input[name=assign-users]").fill("alice")
    panel.locator("input[name=assign-users]").press("Tab")
    page.screenshot(path=f"{SHOTS}/execution-multi-instance.png", full_page=True)

    click_shape(page, "sync")
    panel.locator("select[name=service-kind]").select_option("topic")
    panel.locator("input[name=service-topic]").fill("erp-sync")
    panel.locator("input[name=service-topic]").press("Tab")

    blank(page)
    panel.locator("select[name=process-default-group]").select_option("Finance")


def test_sub_process_boundary_timer_candidates_multi_instance_and_topic(live_server: LiveServer, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server, "pmo")
    page.goto(live_server.url + "/designer")
    page.fill("#new-key", KEY)
    page.locator("form[action$='/designer/new'] button[type=submit]").click()
    wait_ready(page)
    draw(page)
    configure(page)
    save_now(page)
    page.screenshot(path=f"{SHOTS}/execution-drawn.png")
    problems = page.evaluate("() => pmoflowEditor.state.problems")
    assert [p for p in problems if p.get("severity") != "warning"] == [], problems
    expect(page.locator("#problem-count")).to_have_text("0")

    root = saved_xml(page)
    sub = root.find(".//bpmn:subProcess[@id='prepare']", NS)
    assert sub is not None and sub.find("bpmn:userTask[@id='check']", NS) is not None
    late = root.find(".//bpmn:boundaryEvent[@id='late']", NS)
    assert late.get("attachedToRef") == "prepare" and late.get("cancelActivity") != "false"
    assert late.findtext(".//bpmn:timeDuration", None, NS) == '"P2D"'
    review = root.find(".//bpmn:userTask[@id='review']", NS)
    assert review.find("bpmn:extensionElements/pmoflow:assignment", NS).get("candidateUsers") == "alice, bob"
    mi = root.find(".//bpmn:userTask[@id='approve_each']/bpmn:multiInstanceLoopCharacteristics", NS)
    assert mi.get("isSequential") in (None, "false")
    assert mi.findtext("bpmn:loopDataInputRef", None, NS) == "reviewers"
    assert mi.find("bpmn:inputDataItem", NS).get("id") == "reviewer"
    camunda = "{http://camunda.org/schema/1.0/bpmn}"  # what Camunda Modeler reads
    assert (mi.get(f"{camunda}collection"), mi.get(f"{camunda}elementVariable")) == ("reviewers", "reviewer")
    sync = root.find(".//bpmn:serviceTask[@id='sync']", NS)
    assert sync.get("{https://pmoflow.dev/schema/bpmn/1.0}topic") == "erp-sync"
    process = root.find("bpmn:process", NS)
    assert process.find("bpmn:extensionElements/pmoflow:assignment", NS).get("candidateGroups") == "Finance"

    # the collection survives a reload (bpmn-js would drop a reference it cannot resolve)
    page.reload()
    wait_ready(page)
    mi = saved_xml(page).find(".//bpmn:userTask[@id='approve_each']/bpmn:multiInstanceLoopCharacteristics", NS)
    assert mi.findtext("bpmn:loopDataInputRef", None, NS) == "reviewers"

    page.click("#dry-run-tab")
    page.fill("#dry-variables", '{"reviewers": ["ann", "ben"]}')
    page.click("#dry-start")
    expect(page.locator("#dry-status")).to_have_attribute("data-status", "running")
    expect(page.locator('.djs-element[data-element-id="prepare"]')).to_have_class(re.compile("pmoflow-inside"))
    expect(page.locator('.djs-element[data-element-id="late"]')).to_have_class(re.compile("pmoflow-waiting"))
    page.screenshot(path=f"{SHOTS}/execution-dry-run-inside.png")
    page.locator(".dry-task[data-element=check] .dry-complete").click()
    expect(page.locator(".dry-task[data-element=review]")).to_have_count(1)
    page.locator(".dry-task[data-element=review] .dry-complete").click()
    expect(page.locator(".dry-task[data-element=approve_each]")).to_have_count(2)
    page.locator(".dry-task[data-element=approve_each] .dry-complete").first.click()
    expect(page.locator(".dry-task[data-element=approve_each]")).to_have_count(1)
    page.locator(".dry-task[data-element=approve_each] .dry-complete").first.click()
    expect(page.locator(".dry-external[data-element=sync]")).to_have_count(1)
    page.locator(".dry-external[data-element=sync] input").first.fill('{"erp_id": 7}')  # what the worker sends
    page.locator(".dry-external[data-element=sync] button").first.click()
    expect(page.locator("#dry-status")).to_have_attribute("data-status", "completed")
    path = page.locator("#dry-path li").evaluate_all("els => els.map(e => e.dataset.element)")
    assert path.index("prepare_start") < path.index("check") < path.index("prepare") < path.index("review")
    assert path.count("approve_each") >= 2 and path[-2:] == ["sync", "done"]
    page.screenshot(path=f"{SHOTS}/execution-dry-run.png")

    page.click("#pp-properties-tab, .pp-tab >> nth=0")
    watermark_is_visible(page)
    publish(page, "Sub-process, candidates, multi-instance, external task")
    expect(page.locator("body")).to_contain_text(re.compile("version 1", re.I))
    assert errors == []
