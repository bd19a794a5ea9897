"""Reading approval patterns and separation of duties from our extension elements.

    <bpmn:userTask id="board_approval" name="Steering board">
      <bpmn:extensionElements>
        <pmoflow:approval group="Steering Board" rule="count" count="2"/>
        <!-- or approvers="approver_list" (an expression giving user names), rule="all|any|count|percent" -->
      </bpmn:extensionElements>
    </bpmn:userTask>

    <bpmn:process ...><bpmn:extensionElements>
      <pmoflow:separationOfDuties initiator="true" repeat="true"/>
    </bpmn:extensionElements>...

`initiator`: whoever started the request may not work its tasks; `repeat`: one person may
not complete two tasks of the same instance. Both default to true when the element is there.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.extensions.assignment import NotSupported, as_python, zeebe_priority
from engine.spiff.namespaces import BPMN_NS, PMOFLOW_NS

RULES = ("all", "any", "count", "percent")


def _ext(node: etree._Element, name: str) -> etree._Element | None:
    return node.find(f"{{{BPMN_NS}}}extensionElements/{{{PMOFLOW_NS}}}{name}")


def approval_config(node: etree._Element) -> dict[str, Any] | None:
    """The approval pattern of a user task, or None; call `approval_problems` first."""
    el = _ext(node, "approval")
    if el is None:
        return None
    return {
        "approvers": (el.get("approvers") or "").strip() or None,
        "group": (el.get("group") or "").strip() or None,
        "rule": el.get("rule", "all"),
        "count": int(el.get("count") or 0),
        "percent": float(el.get("percent") or 0),
    }


def approval_problems(node: etree._Element, filename: str) -> list[Problem]:
    """Everything wrong with a task's approval pattern, each naming the task and line."""
    el = _ext(node, "approval")
    if el is None:
        return []
    where = (filename, node.get("id"), el.sourceline)
    problems = []
    approvers, group, rule = el.get("approvers"), el.get("group"), el.get("rule", "all")
    if bool(approvers) == bool(group):
        problems.append(
            Problem(
                'pmoflow:approval needs exactly one of approvers="expression" or group="name"', *where, "bad_approval"
            )
        )
    if approvers and (message := check_expression(approvers, "eval")):
        problems.append(Problem(f"approvers expression does not compile: {message}", *where, "bad_expression"))
    if rule not in RULES:
        problems.append(Problem(f"approval rule {rule!r} is not one of {', '.join(RULES)}", *where, "bad_approval"))
    if rule == "count" and not _positive_int(el.get("count")):
        problems.append(Problem('rule="count" needs count="N" with N >= 1', *where, "bad_approval"))
    if rule == "percent" and not _percent(el.get("percent")):
        problems.append(Problem('rule="percent" needs percent between 1 and 100', *where, "bad_approval"))
    return problems


def separation_of_duties(process: etree._Element) -> dict[str, bool]:
    """The process's separation-of-duties rules (both off without the element)."""
    el = _ext(process, "separationOfDuties")
    if el is None:
        return {"initiator": False, "repeat": False}
    return {k: el.get(k, "true").lower() != "false" for k in ("initiator", "repeat")}


def _positive_int(text: str | None) -> bool:
    return text is not None and text.isdigit() and int(text) >= 1


def _percent(text: str | None) -> bool:
    try:
        return 0 < float(text or "") <= 100
    except ValueError:
        return False


def priority_of(node: etree._Element) -> str | None:
    """A user task's priority: a number or an expression (0-100), from our namespace, Camunda 7's
    `camunda:priority` or Camunda 8's `zeebe:priorityDefinition` (`${x}` and `=x` read as `x`)."""
    el = _ext(node, "priority")
    if el is not None and (el.get("value") or "").strip():
        return (el.get("value") or "").strip()
    raw = (node.get("{http://camunda.org/schema/1.0/bpmn}priority") or "").strip() or zeebe_priority(node)
    if not raw:
        return None
    try:
        return as_python(raw)
    except NotSupported:
        return raw  # priority_problems names it


def priority_problems(node: etree._Element, filename: str) -> list[Problem]:
    value = priority_of(node)
    if value is None:
        return []
    message = check_expression(value, "eval")
    if message:
        return [
            Problem(
                f"priority {value!r} is neither a number nor an expression: {message}",
                filename,
                node.get("id"),
                node.sourceline,
                "bad_expression",
            )
        ]
    return []
