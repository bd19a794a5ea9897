"""The catching events a run waits for, and an event thrown at one of them from outside.

The designer's dry run plays what a live instance would meet: a signal broadcast, an error or an
escalation thrown inside the activity a boundary event sits on, a message, a conditional event
whose condition now holds. `waiting` lists them (timers are engine.spiff.runtime.timers.timer_due's);
`throw` delivers the event that the named catching element waits for, then advances the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    CodeEventDefinition,
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.expressions.limits import SandboxError
from engine.spiff.runtime.incidents import StepFailed
from engine.spiff.runtime.run import Run

KINDS: tuple[tuple[type, str], ...] = (
    (MessageEventDefinition, "message"),
    (SignalEventDefinition, "signal"),
    (ErrorEventDefinition, "error"),
    (EscalationEventDefinition, "escalation"),
    (ConditionalEventDefinition, "conditional"),
)


@dataclass(frozen=True)
class Catch:
    """A catching event that waits: a boundary, intermediate or event sub-process start event."""

    element_id: str
    name: str
    kind: str  # message, signal, error, escalation, conditional
    code: str | None  # the message or signal name, the error or escalation code (None: any)
    attached_to: str | None  # a boundary event's activity, or the event sub-process a start event starts
    interrupting: bool

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _kind(definition: Any) -> str | None:
    return next((kind for cls, kind in KINDS if isinstance(definition, cls)), None)


def _waiting(run: Run) -> list[tuple[Task, Any, Any]]:
    """(waiting task, the catching element's spec, its event definition); an event-based gateway waits for
    each event after it (SpiffWorkflow keeps their definitions on the gateway, in the order of its outputs)."""
    found: list[tuple[Task, Any, Any]] = []
    for task in run.wf.event_manager.tasks.values():
        if task.state != TaskState.WAITING:
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MultipleEventDefinition) and len(task.task_spec.outputs) == len(
            definition.event_definitions
        ):
            found.extend(
                (task, out, d) for out, d in zip(task.task_spec.outputs, definition.event_definitions, strict=True)
            )
        elif definition is not None:
            found.append((task, task.task_spec, definition))
    return found


def _waiting_tasks(run: Run) -> list[tuple[Task, Any, Any]]:
    return [w for w in _waiting(run) if _kind(w[2]) is not None]


def timer_element(task: Task) -> tuple[str, str]:
    """(element id, name) of the timer a waiting task stands for: the task's own element, or for an
    event-based gateway the timer event after it (the one runtime.timer_due reports the due time of)."""
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        for out, d in zip(spec.outputs, definition.event_definitions, strict=False):
            if isinstance(d, TimerEventDefinition):
                spec = out
                break
    return spec.bpmn_id or spec.name, spec.bpmn_name or spec.bpmn_id or spec.name


def waiting(run: Run) -> list[Catch]:
    """Every non-timer catching event the run waits for, in a stable order."""
    found = []
    # event sub-process id -> whether its start event interrupts (engine.spiff.model.events, read at deploy)
    starts = dict(getattr(run.wf.spec, "pmoflow", {}).get("event_subprocesses", {}))
    for task, spec, definition in _waiting_tasks(run):
        kind = _kind(definition) or ""
        code = (
            getattr(definition, "code", None)
            if isinstance(definition, CodeEventDefinition)
            else (None if kind == "conditional" else definition.name)
        )
        attached, interrupting = None, bool(getattr(spec, "cancel_activity", True))
        if task.parent is not None and isinstance(task.parent.task_spec, BoundaryEventSplit):
            main = [
                c
                for c in task.parent.children
                if c is not task and getattr(c.task_spec, "event_definition", None) is None
            ]
            attached = main[0].task_spec.bpmn_id if main else None
        elif task.task_spec is spec and task.workflow.spec.name in starts:  # starts an event sub-process
            attached, interrupting = task.workflow.spec.name, bool(starts[task.workflow.spec.name])
        found.append(
            Catch(
                element_id=spec.bpmn_id or spec.name,
                name=spec.bpmn_name or spec.bpmn_id or spec.name,
                kind=kind,
                code=code,
                attached_to=attached,
                interrupting=interrupting,
            )
        )
    return sorted(found, key=lambda c: (c.element_id, c.kind))


def throw(run: Run, element_id: str, payload: dict[str, Any]) -> bool:
    """Deliver what the waiting catching element `element_id` waits for (with `payload` as its variables)
    and advance, the way a live instance meets it: a signal is broadcast (Run.signal), a message correlated
    (Run.correlate), a conditional event checked again with `payload` set (Run.reevaluate_conditions); an
    error or an escalation is thrown inside the activity the event waits on. False if no such element waits;
    raises StepFailed if SpiffWorkflow fails to deliver it."""
    tasks = [(t, d) for t, spec, d in _waiting_tasks(run) if spec.bpmn_id == element_id]
    if not tasks:
        return False
    task, definition = tasks[0]
    kind = _kind(definition)
    if kind == "signal":
        return run.signal(str(definition.name), payload)
    if kind == "message":
        return run.correlate(str(definition.name), payload)
    if kind == "conditional":
        run.set_variables(payload, [])
        run.reevaluate_conditions()
        return True
    try:
        run.wf.catch(BpmnEvent(definition, payload=dict(payload), target=task.workflow))
    except (SpiffWorkflowException, SandboxError) as err:
        raise StepFailed(f"{element_id}: {err}") from err
    task.data.update(payload)  # the path that caught it takes the variables
    run.advance()
    return True
