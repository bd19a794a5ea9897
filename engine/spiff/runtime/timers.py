"""Timers at run time: when a waiting timer fires, what kind it is (reminder, escalation, outcome), the due time
of a human task's boundary timers, and timers re-armed on a business calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.expressions.limits import SandboxError
from engine.spiff.runtime import events as event_runtime
from engine.spiff.runtime.clock import now
from engine.spiff.runtime.incidents import Incident


def timer_context(task: Task) -> dict[str, Any]:
    """For a fired boundary timer: the human task it was attached to, and whether it interrupted it."""
    spec = task.task_spec
    parent = task.parent
    if not isinstance(spec, BoundaryEvent) or parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return {"boundary": False}
    attached = [t for t in parent.children if t is not task and t.task_spec.manual]
    return {
        "boundary": True,
        "interrupting": bool(spec.cancel_activity),
        "kind": timer_kind(task, dict(getattr(task.workflow.top_workflow.spec, "pmoflow", {}).get("timers", {}))),
        "attached_to": attached[0].task_spec.bpmn_id if attached else None,
        "attached_task_id": str(attached[0].id) if attached else None,
    }


def boundary_due(task: Task, timers: dict[str, dict[str, Any]] | None = None) -> datetime | None:
    """The earliest due time of the task's boundary timers, reminders left out."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [
        d
        for sibling in parent.children
        if sibling is not task
        and timer_kind(sibling, timers or {}) != "reminder"
        and (d := timer_due(sibling)) is not None
    ]
    return min(dues) if dues else None


def timer_kind(task: Task, timers: dict[str, dict[str, Any]]) -> str:
    """reminder, escalation or outcome; without a declared kind, non-interrupting timers remind."""
    spec = task.task_spec
    declared = timers.get(spec.bpmn_id or "", {}).get("kind")
    if declared:
        return str(declared)
    return "escalation" if getattr(spec, "cancel_activity", True) else "reminder"


def timer_due(task: Task) -> datetime | None:
    """When a waiting timer task fires, or None if it is not a timer or not yet armed. An event-based
    gateway waits with its timer (SpiffWorkflow keeps it on the gateway's task)."""
    definition = event_runtime.gateway_timer(getattr(task.task_spec, "event_definition", None))
    if not isinstance(definition, TimerEventDefinition) or task.state != TaskState.WAITING:
        return None
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if not isinstance(value, dict) or value.get("cycles") == 0:
            return None
        value = value["next"]
    parsed = TimerEventDefinition.parse_time_or_duration(value)
    if not isinstance(parsed, datetime):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rearm_business_timers(
    wf: BpmnWorkflow, timers: dict[str, dict[str, Any]], business_due: Callable[[str, datetime, str], datetime] | None
) -> Incident | None:
    """Re-arm timers that run on a business calendar: their due time counts working time only; returns the
    incident of a timer whose duration or calendar fails (the walk stops there), else None.

    Spiff arms a duration timer at now + duration (calendar time); in the same step, before
    anything can fire (working time never passes faster than the clock), the due time is
    replaced by the calendar's and the task is marked so that it is done once.
    """
    if business_due is None or not any(t.get("calendar") for t in timers.values()):
        return None  # no timer on a calendar: no walk of the waiting tasks
    for task in wf.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        definition = getattr(spec, "event_definition", None)
        calendar = timers.get(spec.bpmn_id or "", {}).get("calendar")
        if (
            not calendar
            or not isinstance(definition, TimerEventDefinition)
            or isinstance(definition, CycleTimerEventDefinition)
            or task._get_internal_data("event_value") is None
            or task._get_internal_data("business_time")
        ):
            continue
        try:
            duration = wf.script_engine.evaluate(task, definition.expression)
            due = business_due(calendar, now(), str(duration))
        except (SpiffWorkflowException, SandboxError, ValueError) as err:
            return Incident(
                element_id=spec.bpmn_id,
                task_id=str(task.id),
                message=f"business-time timer: {err}",
                kind=type(err).__name__,
            )
        task._set_internal_data(event_value=due.isoformat(), business_time=calendar)
    return None
