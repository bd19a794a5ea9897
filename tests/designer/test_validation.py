"""Each validation rule, each with a model that breaks it; a clean model has no problem."""

from __future__ import annotations

import pytest

from designer.validation import blocking, validate_files
from engine.spiff.model.parsing import SourceFile
from tests.bpmn_samples import document, flow, lane, linear, one_approval, process, user_task

GROUPS = {"IT Manager", "Finance"}
FORM = SourceFile("f.form", b'{"id": "f", "type": "default", "components": []}')
DMN = SourceFile(
    "d.dmn",
    b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs_d" name="d" namespace="t">
  <decision id="tier" name="Tier"><decisionTable id="t1" hitPolicy="FIRST">
    <input id="i1" label="Budget">
      <inputExpression id="ie1" typeRef="number"><text>budget</text></inputExpression></input>
    <output id="o1" name="tier" typeRef="number"/>
    <rule id="r1"><inputEntry id="e1"><text>-</text></inputEntry>
      <outputEntry id="oe1"><text>1</text></outputEntry></rule>
  </decisionTable></decision>
</definitions>""",
)


def check(bpmn: str, *others: SourceFile, groups: set[str] | None = GROUPS):
    return validate_files([SourceFile("p.bpmn", bpmn.encode()), *others], groups=groups, max_bytes=1_000_000)


def codes(problems) -> set[tuple[str | None, str]]:
    return {(p.element_id, p.code) for p in problems}


def gateway_model(conditions: tuple[str | None, str | None], default: str | None = None) -> str:
    default_attr = f' default="{default}"' if default else ""
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "gw")
        + f'<bpmn:exclusiveGateway id="gw"{default_attr}/>'
        + flow("fa", "gw", "a", conditions[0])
        + flow("fb", "gw", "b", conditions[1])
        + user_task("a")
        + user_task("b")
        + '<bpmn:endEvent id="end"/>'
        + flow("fa_end", "a", "end")
        + flow("fb_end", "b", "end")
    )
    return document(process(body, lane("IT Manager", "a", "b")))


def test_a_clean_model_has_no_problem():
    assert check(one_approval()) == []
    assert check(gateway_model(("budget &gt; 10", None), default="fb")) == []


def test_user_task_in_a_lane_whose_group_does_not_exist():
    problems = check(one_approval(lane_name="Purchasing"))
    assert codes(problems) == {("approve", "unknown_group")}
    assert "Purchasing" in problems[0].message and problems[0].line and problems[0].file == "p.bpmn"


def test_explicit_candidate_group_that_does_not_exist():
    task = (
        '<bpmn:userTask id="approve"><bpmn:extensionElements>'
        '<pmoflow:assignment candidateGroups="Finance, Ghosts"/></bpmn:extensionElements></bpmn:userTask>'
    )
    problems = check(linear((task, "approve")))
    assert codes(problems) == {("approve", "unknown_group")}
    assert "Ghosts" in problems[0].message


def test_user_task_outside_any_lane_is_fine():
    assert check(linear((user_task("approve"), "approve"))) == []


def test_gateway_branch_without_condition_or_default_is_advice_that_it_is_always_taken():
    problems = check(gateway_model(("budget &gt; 10", None)))
    [advice] = [p for p in problems if p.element_id == "fb"]
    assert advice.code == "always_taken" and "always taken" in advice.message and advice.line
    assert blocking(problems) == []


def test_timer_that_does_not_parse():
    timer = (
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="td">'
        '<bpmn:timeDuration>"P1X"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    )
    assert ("wait", "bad_timer") in codes(check(linear((timer, "wait"))))


def test_referenced_decision_must_exist():
    task = (
        '<bpmn:businessRuleTask id="rate"><bpmn:extensionElements><pmoflow:decision ref="nowhere"/>'
        "</bpmn:extensionElements></bpmn:businessRuleTask>"
    )
    assert ("rate", "missing_decision") in codes(check(linear((task, "rate")), DMN))
    fixed = task.replace("nowhere", "tier")
    assert check(linear((fixed, "rate")), DMN) == []


def test_referenced_form_must_exist():
    problems = check(one_approval(form="nope"), FORM)
    assert ("approve", "missing_form") in codes(problems)
    assert check(one_approval(form="f"), FORM) == []


def test_dead_end():
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "approve")
        + user_task("approve")
        + '<bpmn:endEvent id="end"/>'
    )
    problems = check(document(process(body, lane("IT Manager", "approve"))))
    assert ("approve", "dead_end") in codes(problems)
    assert ("end", "unreachable") in codes(problems)


def test_unreachable_element():
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "end")
        + '<bpmn:endEvent id="end"/>'
        + user_task("orphan")
        + '<bpmn:endEvent id="end2"/>'
        + flow("f1", "orphan", "end2")
    )
    problems = check(document(process(body, lane("IT Manager", "orphan"))))
    assert codes(problems) == {("orphan", "unreachable")}
    assert "end2" in problems[0].message  # named as cut off after it, not listed again


def test_one_removed_flow_gives_one_unreachable_problem_naming_what_it_cuts_off():
    chain = [f"t{i}" for i in range(12)]
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "t0")
        + "".join(user_task(t) for t in chain)
        + '<bpmn:endEvent id="end"/>'
        + "".join(flow(f"f{i + 1}", a, b) for i, (a, b) in enumerate(zip(chain, chain[1:] + ["end"])) if i != 2)
    )
    problems = [p for p in check(document(process(body, lane("IT Manager", *chain)))) if p.code == "unreachable"]
    assert [p.element_id for p in problems] == ["t3"]  # the flow t2 -> t3 was removed
    assert "the 9 element(s) after it are cut off too: t4, t5, t6" in problems[0].message
    assert "end" in problems[0].message and problems[0].line


def test_a_cut_off_loop_is_reported_once():
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "end")
        + '<bpmn:endEvent id="end"/>'
        + user_task("a")
        + user_task("b")
        + flow("fa", "a", "b")
        + flow("fb", "b", "a")
    )
    problems = check(document(process(body, lane("IT Manager", "a", "b"))))
    assert codes(problems) == {("a", "unreachable")}
    assert "cut off too: b" in problems[0].message


def test_boundary_events_and_their_paths_are_reachable():
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "approve")
        + user_task("approve")
        + flow("f1", "approve", "end")
        + '<bpmn:endEvent id="end"/>'
        + '<bpmn:boundaryEvent id="late" attachedToRef="approve"><bpmn:timerEventDefinition id="t">'
        '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        + flow("f2", "late", "end_late")
        + '<bpmn:endEvent id="end_late"/>'
    )
    assert check(document(process(body, lane("IT Manager", "approve")))) == []


@pytest.mark.parametrize("groups", [None, set()])
def test_the_group_rule_is_skipped_without_a_group_list_and_strict_with_an_empty_one(groups):
    problems = check(one_approval(), groups=groups)
    assert (("approve", "unknown_group") in codes(problems)) is (groups is not None)


def test_every_problem_is_reported_at_once():
    body = (
        '<bpmn:startEvent id="start"/>'
        + flow("f0", "start", "approve")
        + user_task("approve", form="gone")
        + user_task("orphan")
        + '<bpmn:endEvent id="end"/>'
        + flow("f1", "orphan", "end")
    )
    found = codes(check(document(process(body, lane("Nobody", "approve", "orphan")))))
    assert {
        ("approve", "unknown_group"),
        ("approve", "missing_form"),
        ("approve", "dead_end"),
        ("orphan", "unreachable"),
    } <= found
