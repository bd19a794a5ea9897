"""Reading SLAs, business-time timers and timer kinds from our extension elements.

    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements>
        <!-- due: an ISO 8601 duration ("P2D") or date/time, or an expression giving one -->
        <pmoflow:sla due="P2D" calendar="default" atRisk="0.75"/>
      </bpmn:extensionElements>
    </bpmn:userTask>

    <bpmn:boundaryEvent id="review_reminder" attachedToRef="review" cancelActivity="false"
                        pmoflow:timerKind="reminder">
      <bpmn:timerEventDefinition pmoflow:calendar="default">
        <bpmn:timeCycle>R/P1D</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>

A task's due date comes from its interrupting boundary timers (the earliest), otherwise from
`pmoflow:sla due`; Camunda's `camunda:dueDate` is read like `due`. `calendar` puts a duration
on business time (see engine.sla.calendars); without it durations run on calendar time. `atRisk`
is the share of the allowed time after which the task is "at risk" (default 0.75).

Timer kinds (`pmoflow:timerKind` on a boundary event): `reminder` (notify the assignee or the
task's groups, write `task_reminder`; no SLA breach), `escalation` (write `sla_breached`; the
outgoing flow escalates, e.g. to a "PMO Director" lane), `outcome` (write `sla_breached`; the
outgoing flow sets a default outcome, e.g. a script task recording auto-reject and its reason),
`reassign` (on a non-interrupting timer: write `sla_breached` and give the task to the manager
of its group, see engine.sla.deadlines).
Without the attribute a non-interrupting timer is a reminder and an interrupting one an
escalation. Reminders do not count towards the task's due date.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime
from typing import Any

from lxml import etree

from engine.core.errors import Problem
from engine.sla.calendars import CalendarError, parse_duration
from engine.sla.state import AT_RISK_SHARE
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.extensions.assignment import NotSupported, as_python, zeebe_due_date
from engine.spiff.namespaces import BPMN_NS, CAMUNDA_NS, PMOFLOW_NS
from engine.spiff.xml import parent_of

TIMER_KINDS = ("reminder", "escalation", "outcome", "reassign")
_ISO_FULL = re.compile(
    r"^(P(\d+([.,]\d+)?[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?"
    r"|\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?)$",
    re.I,
)


def _camunda_due(node: etree._Element) -> str:
    """Camunda 7's `camunda:dueDate` or Camunda 8's `zeebe:taskSchedule dueDate`, raw ("" without)."""
    return (node.get(f"{{{CAMUNDA_NS}}}dueDate") or "").strip() or zeebe_due_date(node) or ""


def sla_config(node: etree._Element) -> dict[str, Any] | None:
    """A user task's SLA property, or None; call `sla_problems` first."""
    el = node.find(f"{{{BPMN_NS}}}extensionElements/{{{PMOFLOW_NS}}}sla")
    camunda = _camunda_due(node)
    if el is None and not camunda:
        return None
    if el is None:
        return {"due": _as_expression(camunda), "calendar": None, "at_risk": AT_RISK_SHARE}
    due = (el.get("due") or "").strip()
    at_risk = el.get("atRisk")
    return {
        "due": _as_expression(due) if due else None,
        "calendar": (el.get("calendar") or "").strip() or None,
        "at_risk": float(at_risk) if at_risk else AT_RISK_SHARE,
    }


def _as_expression(text: str) -> str:
    """A bare ISO value ("P2D", as Camunda writes it) as a quoted expression; others unchanged."""
    if _ISO_FULL.match(text):
        return repr(text)
    if text.startswith(("${", "#{", "=")):  # Camunda 7's ${dueDate}, Camunda 8's =dueDate
        try:
            return as_python(text)
        except NotSupported:
            return text  # sla_problems names it
    return text


def sla_problems(node: etree._Element, filename: str) -> list[Problem]:
    """Everything wrong with a task's SLA property, each naming the task and line."""
    el = node.find(f"{{{BPMN_NS}}}extensionElements/{{{PMOFLOW_NS}}}sla")
    camunda = _camunda_due(node)
    if el is None and not camunda:
        return []
    where = (filename, node.get("id"), el.sourceline if el is not None else node.sourceline)
    problems = []
    due = (el.get("due") if el is not None else camunda) or ""
    if not due.strip():
        problems.append(Problem('pmoflow:sla needs due="P2D" (a duration, a date or an expression)', *where, "bad_sla"))
    else:
        expression = _as_expression(due.strip())
        message = check_expression(expression, "eval")
        if message:
            problems.append(
                Problem(f"SLA due {due!r} is neither ISO 8601 nor an expression: {message}", *where, "bad_expression")
            )
        elif (literal := _literal(expression)) is not None:
            problems.extend(_literal_problems(literal, el.get("calendar") if el is not None else None, where))
    if el is not None and el.get("atRisk") is not None:
        try:
            share = float(el.get("atRisk") or "")
        except ValueError:
            share = -1
        if not 0 < share < 1:
            problems.append(Problem("atRisk must be a share between 0 and 1 (for example 0.75)", *where, "bad_sla"))
    return problems


def _literal(expression: str) -> str | None:
    try:
        value = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _literal_problems(value: str, calendar: str | None, where: tuple[str, str | None, int | None]) -> list[Problem]:
    if value.upper().startswith("P"):
        try:
            parts = parse_duration(value)
        except CalendarError as err:
            return [Problem(f"SLA due: {err}", *where, "bad_sla")]
        if calendar and (parts.get("years") or parts.get("months")):
            return [
                Problem(f"SLA due {value!r}: months and years cannot run on business time; use days", *where, "bad_sla")
            ]
        return []
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return [Problem(f"SLA due {value!r} is neither an ISO 8601 duration nor a date", *where, "bad_sla")]
    return []


def timer_calendar(definition: etree._Element) -> str | None:
    """The business calendar a timer event definition runs on (pmoflow:calendar), or None."""
    value = (definition.get(f"{{{PMOFLOW_NS}}}calendar") or "").strip()
    return value or None


def timer_kind(event: etree._Element) -> str:
    """reminder, escalation or outcome (see the module docstring)."""
    kind = (event.get(f"{{{PMOFLOW_NS}}}timerKind") or "").strip()
    if kind:
        return kind
    return "reminder" if event.get("cancelActivity", "true").lower() == "false" else "escalation"


def timer_problems(event: etree._Element, filename: str) -> list[Problem]:
    """Problems with a timer event's kind and calendar, naming the element and line."""
    problems = []
    where = (filename, event.get("id"), event.sourceline)
    kind = (event.get(f"{{{PMOFLOW_NS}}}timerKind") or "").strip()
    if kind and kind not in TIMER_KINDS:
        problems.append(
            Problem(f"pmoflow:timerKind {kind!r} is not one of {', '.join(TIMER_KINDS)}", *where, "bad_timer")
        )
    if kind and etree.QName(event).localname != "boundaryEvent":
        problems.append(Problem("pmoflow:timerKind belongs on a boundary event", *where, "bad_timer"))
    for definition in event.iterfind(f"{{{BPMN_NS}}}timerEventDefinition"):
        if timer_calendar(definition) is None:
            continue
        if definition.find(f"{{{BPMN_NS}}}timeCycle") is not None:
            problems.append(
                Problem(
                    "a cycle timer cannot run on a business calendar; put the calendar on a duration",
                    *where,
                    "bad_timer",
                )
            )
        if definition.find(f"{{{BPMN_NS}}}timeDate") is not None:
            problems.append(
                Problem("a date timer has no duration to count on a business calendar", *where, "bad_timer")
            )
        duration = definition.find(f"{{{BPMN_NS}}}timeDuration")
        literal = _literal(_as_expression((duration.text or "").strip())) if duration is not None else None
        if literal:
            try:
                parts = parse_duration(literal)
                if parts.get("years") or parts.get("months"):
                    problems.append(
                        Problem(f"timer {literal!r}: months and years cannot run on business time", *where, "bad_timer")
                    )
            except CalendarError:
                pass  # the timer check reports it
    return problems


def timer_calendars_used(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """(calendar name, element naming it) for every timer and SLA of a BPMN file."""
    used = []
    for definition in root.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        name = timer_calendar(definition)
        if name:
            used.append((name, parent_of(definition)))
    for el in root.iter(f"{{{PMOFLOW_NS}}}sla"):
        name = (el.get("calendar") or "").strip()
        if name:
            holder = el.getparent()  # extensionElements, inside the task or process
            owner = parent_of(holder) if holder is not None else el
            used.append((name, owner))
    return used


def boundary_timers(process: etree._Element) -> dict[str, dict[str, Any]]:
    """Every timer event of a process: element id -> kind, calendar, attached task, interrupting."""
    timers: dict[str, dict[str, Any]] = {}
    for definition in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        event = parent_of(definition)
        event_id = event.get("id")
        if event_id is None:
            continue
        boundary = etree.QName(event).localname == "boundaryEvent"
        timers[event_id] = {
            "kind": timer_kind(event) if boundary else None,
            "calendar": timer_calendar(definition),
            "attached_to": event.get("attachedToRef") if boundary else None,
            "interrupting": event.get("cancelActivity", "true").lower() != "false" if boundary else None,
        }
    return timers
