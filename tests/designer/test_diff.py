"""The diff between two diagrams: added, removed and changed elements with their changed properties."""

from __future__ import annotations

import pytest

from designer.diff import XmlRefused, diff_bpmn
from tests.bpmn_samples import document, flow, lane, linear, one_approval, process, user_task
from tests.factories import WORKFLOWS


def test_identical_diagrams_have_no_difference():
    text = (WORKFLOWS / "project-intake.bpmn").read_text()
    assert diff_bpmn(text, text).empty


def test_added_removed_and_changed_elements_with_properties():
    before = one_approval()
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "approve")
        + '<bpmn:userTask id="approve" name="Approve it"><bpmn:extensionElements>'
        '<pmoflow:priority value="80"/></bpmn:extensionElements></bpmn:userTask>'
        + flow("f1", "approve", "check")
        + user_task("check", "Check")
        + flow("f2", "check", "end")
        + '<bpmn:endEvent id="end"/>'
    )
    after = document(process(body, lane("IT Manager", "approve", "check")))
    result = diff_bpmn(before, after)
    assert {e.id for e in result.of("added")} == {"check", "f1", "f2"}
    assert {e.id for e in result.of("removed")} == {"f_end"}
    changed = {e.id: {c.property: (c.before, c.after) for c in e.changes} for e in result.of("changed")}
    assert changed["approve"] == {"name": ("Approve", "Approve it"), "pmoflow:priority": (None, "value=80")}
    assert "lane_IT_Manager" not in changed  # flowNodeRef lists are not properties


def test_moved_shapes_and_changed_conditions_are_changes():
    text = (WORKFLOWS / "project-intake.bpmn").read_text()
    moved = text.replace('<dc:Bounds x="', '<dc:Bounds x="1', 1)
    result = diff_bpmn(text, moved)
    assert len(result.of("changed")) == 1 and result.of("changed")[0].changes[0].property == "bounds"
    condition = linear((user_task("a"), "a")).replace(
        '<bpmn:sequenceFlow id="f_end" sourceRef="a" targetRef="end"/>', flow("f_end", "a", "end", "x &gt; 1")
    )
    other = condition.replace("x &gt; 1", "x &gt; 2")
    (change,) = diff_bpmn(condition, other).of("changed")
    assert change.id == "f_end" and change.changes[0].property == "conditionExpression"


def test_unreadable_xml_is_refused():
    with pytest.raises(XmlRefused):
        diff_bpmn("<nope", one_approval())
