"""Events at run time, beyond what SpiffWorkflow does by itself (used by `engine.spiff.runtime.run.Run`).

- **Signals.** A signal thrown by an instance is caught inside it by SpiffWorkflow; every throw
  is also noted in the step's log (`StepLog.signals`) so the service layer can broadcast it to
  the other instances (the application is the bus). `deliver` hands a signal from outside to
  every event of one instance waiting for it.
- **Conditional events** wait until their condition holds. SpiffWorkflow evaluates a condition
  only when the event is reached, so conditions are evaluated again (`fire_conditions`) after
  every step of the instance, over the instance's variables (the data of all its live tasks,
  so a change made on another branch counts), and when an administrator changes variables.
  A condition that holds fires its event once; a condition that fails to evaluate counts as
  false (the variables it needs may not exist yet).
- **Errors and escalations are scoped**: thrown inside a sub-process, they are caught first by
  an event sub-process of that sub-process, then by a boundary event on it, then outwards
  (SpiffWorkflow's own throw lets any waiting catcher anywhere take them). A catcher naming the
  code wins over a catch-all one on the same activity.
- **Non-interrupting boundary message, signal and escalation events** fire each time their
  event comes while the activity runs (SpiffWorkflow fires them once).
- **Event sub-processes** start with their scope (engine.spiff.model.events.connect_event_subprocesses);
  when an interrupting one fires, the rest of its scope is cancelled; when the scope's other
  work is done, the ones that never fired are cancelled so the scope can complete. A
  non-interrupting one started by a message, signal or escalation waits again after it fired
  (timer and conditional ones fire once per scope).
- **Uncaught events.** An error that no boundary event or event sub-process catches becomes an
  incident naming the element that threw it; uncaught escalations and signals are dropped
  from the workflow's pending events (they are not errors; signals were broadcast).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.util.event import EventManager
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition as SpiffErrorEventDefinition
from SpiffWorkflow.spiff.specs.event_definitions import EscalationEventDefinition as SpiffEscalationEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.spiff.expressions.limits import SandboxError

CONDITION_ROUNDS = 20  # conditions firing conditions, event sub-processes: at most this many rounds per step
LIVE = TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED


# ---------------------------------------------------------------- scoped errors and escalations


def _scoped_throw(self: Any, my_task: Task) -> None:
    """SpiffWorkflow's throw of an error or escalation, aimed at the thrower's scope first."""
    payload = my_task.workflow.script_engine.evaluate(my_task, self.expression) if self.expression else None
    event = BpmnEvent(self, payload=payload, target=my_task.workflow)
    event.origin = my_task.workflow  # the scope it came from
    my_task.workflow.top_workflow.catch(event)


SpiffErrorEventDefinition.throw = _scoped_throw
SpiffEscalationEventDefinition.throw = _scoped_throw
_spiff_catch = EventManager.catch


def _catch(self: EventManager, event: BpmnEvent, internal: bool = True) -> int:
    """SpiffWorkflow's catch, with errors and escalations looked for scope by scope (see the module)."""
    if event.target is None or not hasattr(event, "origin"):
        repeating = [t for t in self.tasks.values() if _repeats(t) and t.task_spec.catches(t, event)]
        caught = int(_spiff_catch(self, event, internal))
        _rearm(repeating)
        return caught
    tasks = _scope_catchers(self, event)
    if not tasks:
        if event.target.parent_workflow is None:
            if internal:
                self.workflow.bpmn_events.append(event)  # nobody caught it
            return 0
        event.target = event.target.parent_workflow
        return _catch(self, event, internal)
    for task in tasks:
        task.task_spec.catch(task, event)
        task.task_spec._update(task)
    _rearm([t for t in tasks if _repeats(t)])
    return len(tasks)


def _repeats(task: Task) -> bool:
    """A non-interrupting boundary message, signal or escalation event fires each time its event comes
    while its activity runs (SpiffWorkflow fires it once); timers repeat by their cycle, conditions once."""
    spec = task.task_spec
    return (
        isinstance(spec, BoundaryEvent)
        and not spec.cancel_activity
        and task.state == TaskState.WAITING
        and isinstance(
            spec.event_definition, MessageEventDefinition | SignalEventDefinition | EscalationEventDefinition
        )
    )


def _rearm(fired: list[Task]) -> None:
    """Wait again, beside each fired event, for the next one (a new task of the same element)."""
    for task in fired:
        if task.state == TaskState.WAITING or task.parent is None:
            continue  # did not fire after all
        again = task.parent._add_child(task.task_spec, TaskState.MAYBE)  # predicted: its path is built too
        again.task_spec._update(again)


def _scope_catchers(manager: EventManager, event: BpmnEvent) -> list[Task]:
    target, origin = event.target, event.origin
    found = []
    for task in manager.tasks.values():
        in_scope = task.workflow == target or (
            isinstance(task.task_spec, StartEvent) and getattr(task.workflow, "parent_workflow", None) == target
        )
        if in_scope and task.task_spec.catches(task, event) and _encloses(task, origin):
            found.append(task)
    code = getattr(event.event_definition, "code", None)
    exact = [t for t in found if code is not None and getattr(t.task_spec.event_definition, "code", None) == code]
    return [t for t in found if t in exact or not any(_same_activity(t, e) for e in exact)]


def _encloses(task: Task, origin: Any) -> bool:
    """A boundary event catches only what its activity threw (from inside it)."""
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return True
    top = task.workflow.top_workflow
    attached = [c for c in task.parent.children if not isinstance(c.task_spec, BoundaryEvent)]
    inner = {top.subprocesses.get(c.id) for c in attached} - {None}
    scope = origin
    while scope is not None:
        if scope in inner:
            return True
        scope = getattr(scope, "parent_workflow", None)
    return False


def _same_activity(a: Task, b: Task) -> bool:
    """Two catchers for the same activity: boundary events on it, or event sub-processes of one scope."""
    if isinstance(a.task_spec, BoundaryEvent) and isinstance(b.task_spec, BoundaryEvent):
        return a.parent is b.parent
    return getattr(a.workflow, "parent_workflow", None) == getattr(b.workflow, "parent_workflow", None)


EventManager.catch = _catch


# ---------------------------------------------------------------- observing throws


def observe(workflow: BpmnWorkflow, thrown: list[dict[str, Any]]) -> None:
    """Note in `thrown` every signal the workflow throws (SpiffWorkflow routes each throw through `catch`);
    replaces what an earlier run of the same workflow object observed with."""
    vars(workflow).pop("catch", None)
    original = workflow.catch

    def catch(event: BpmnEvent) -> None:
        definition = event.event_definition
        if isinstance(definition, SignalEventDefinition):
            thrown.append({"signal": str(definition.name), "element_id": _thrower(workflow, definition)})
        original(event)

    workflow.catch = catch  # an attribute of this object only; never serialized


def _thrower(workflow: BpmnWorkflow, definition: Any) -> str | None:
    """The element whose event definition this is (the thrower of an event)."""
    for spec in [workflow.spec, *workflow.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "event_definition", None) is definition:
                return str(task_spec.bpmn_id)
    return None


# ---------------------------------------------------------------- signals from outside


def _definitions(task: Task) -> list[Any]:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def catches_of(task: Task, kind: type) -> list[Any]:
    """The event definitions of `kind` a catching task waits for (an event-based gateway's included)."""
    if not isinstance(task.task_spec, CatchingEvent):
        return []
    return [d for d in _definitions(task) if isinstance(d, kind)]


def _waiting_for_signal(workflow: BpmnWorkflow, name: str | None = None) -> list[tuple[Task, Any]]:
    return [
        (task, d)
        for task in workflow.get_tasks(state=TaskState.WAITING)
        for d in catches_of(task, SignalEventDefinition)
        if name is None or d.name == name
    ]


def gateway_timer(definition: Any) -> Any:
    """The timer an event-based gateway waits for (the first), or `definition` itself if it is no gateway's."""
    if isinstance(definition, MultipleEventDefinition):
        return next((d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)), None)
    return definition


def deliver(workflow: BpmnWorkflow, name: str, variables: dict[str, Any]) -> bool:
    """Hand signal `name` to every event of the workflow waiting for it (not advanced); False if none waits."""
    waiting = _waiting_for_signal(workflow, name)
    if not waiting:
        return False
    try:
        workflow.send_event(BpmnEvent(waiting[0][1], payload=dict(variables)))
    except WorkflowException:
        return False
    for task, _ in waiting:
        task.data.update(variables)  # after the catch: a caught event takes its parent's data first
    return True


def inherited_from(tasks: list[Task]) -> list[Task]:
    """The tasks whose data waiting events among `tasks` take when they fire (SpiffWorkflow merges a
    parent's data over the event's own), so that a change of variables reaches them."""
    return [
        t.parent
        for t in tasks
        if t.state == TaskState.WAITING
        and isinstance(t.task_spec, CatchingEvent)
        and t.parent is not None
        and t.parent not in tasks
    ]


def _signal_names(task_spec: Any) -> set[str]:
    definition = getattr(task_spec, "event_definition", None)
    definitions = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return {str(d.name) for d in definitions if isinstance(d, SignalEventDefinition)}


def signal_starts(spec: BpmnProcessSpec) -> set[str]:
    """The signals that start a process: the signal definitions of its top-level start events."""
    return {n for ts in spec.task_specs.values() if isinstance(ts, StartEvent) for n in _signal_names(ts)}


def signal_catches(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> set[str]:
    """Every signal some catching event of a process (its sub-processes included) may wait for."""
    return {
        n
        for s in [spec, *subprocess_specs.values()]
        for ts in s.task_specs.values()
        if isinstance(ts, CatchingEvent)
        for n in _signal_names(ts)
    }


# ---------------------------------------------------------------- conditions

_spiff_has_fired = ConditionalEventDefinition.has_fired


def _has_fired(self: ConditionalEventDefinition, my_task: Task) -> bool:
    """SpiffWorkflow's check when the event is reached, made tolerant: a condition that cannot be evaluated
    yet (a variable not set yet) is false, and one found true over the instance's variables stays true."""
    if my_task._get_internal_data("condition_met"):
        return True
    try:
        return bool(_spiff_has_fired(self, my_task))
    except (WorkflowException, SandboxError):
        my_task._set_internal_data(has_fired=False)
        return False


ConditionalEventDefinition.has_fired = _has_fired


def _live_variables(workflow: BpmnWorkflow) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for task in workflow.get_tasks(state=LIVE):
        data.update(task.data)
    return data


def fire_conditions(workflow: BpmnWorkflow) -> bool:
    """Fire waiting conditional events whose condition now holds (not advanced); True if one fired."""
    waiting = [
        t
        for t in list(workflow.event_manager.tasks.values())  # the waiting catch events, not the tree
        if t.state == TaskState.WAITING
        and isinstance(getattr(t.task_spec, "event_definition", None), ConditionalEventDefinition)
    ]
    if not waiting:
        return False
    variables = _live_variables(workflow)
    environment = workflow.script_engine.environment
    fired = False
    for task in waiting:
        if task.state != TaskState.WAITING:
            continue  # cancelled by an interrupting event fired just now
        try:
            holds = bool(environment.evaluate(task.task_spec.event_definition.expression, dict(variables)))
        except (
            SandboxError,
            NameError,
            TypeError,
            ValueError,
            AttributeError,
            KeyError,
            ZeroDivisionError,
            ArithmeticError,
            WorkflowException,
        ):
            holds = False  # not yet evaluable: the variables may come later
        if holds:
            task._set_internal_data(condition_met=True)
            task.task_spec._update(task)  # inherits its parent's data: the new values go on top
            task.data.update(variables)
            fired = fired or task.state != TaskState.WAITING
    return fired


# ---------------------------------------------------------------- after the engine steps


@dataclass(frozen=True)
class Uncaught:
    """An error nothing caught: the element that threw it and what to say."""

    element_id: str | None
    message: str


def settle(workflow: BpmnWorkflow, engine_steps: Callable[[], None]) -> Uncaught | None:
    """Fire conditions that hold now and give event sub-processes their effect (a few rounds: a firing may
    make another hold; `engine_steps` runs the engine tasks they ready, within the step's budget), then take
    the events nothing in the instance caught; returns the first uncaught error, if any."""
    interrupting = dict(getattr(workflow.spec, "pmoflow", {}).get("event_subprocesses", {}))
    for _ in range(CONDITION_ROUNDS):
        if not (fire_conditions(workflow) | _event_subprocesses(workflow, interrupting)):
            break
        engine_steps()
    return _uncaught(workflow)


# ---------------------------------------------------------------- event sub-processes


def _event_subprocesses(workflow: BpmnWorkflow, interrupting: dict[str, bool]) -> bool:
    """Interrupt for event sub-processes that fired, end those that can no longer fire; True if anything changed."""
    if not interrupting:
        return False
    changed = False
    scopes: dict[int, tuple[Any, list[Task]]] = {}
    for task_id, sub in list(workflow.subprocesses.items()):
        task = workflow.get_task_from_id(task_id)
        if (
            task is None
            or task.task_spec.bpmn_id not in interrupting
            or task.state not in (TaskState.STARTED, TaskState.READY, TaskState.COMPLETED)
        ):
            continue
        if _fired(sub):
            if interrupting[task.task_spec.bpmn_id] and not task._get_internal_data("interrupted"):
                task._set_internal_data(interrupted=True)
                _cancel_scope_except(task)
                _recheck_end(task.workflow)
                changed = True
            elif (
                not interrupting[task.task_spec.bpmn_id]
                and not task._get_internal_data("rearmed")
                and _repeats_start(sub)
            ):
                task._set_internal_data(rearmed=True)  # a non-interrupting one may start again while its scope runs
                again = task.parent._add_child(task.task_spec, TaskState.MAYBE)
                again.task_spec._update(again)
                changed = True
        elif task.state == TaskState.STARTED:
            scopes.setdefault(id(task.workflow), (task.workflow, []))[1].append(task)
    for scope, waiting in scopes.values():
        if _only_waiting_left(scope, waiting):
            for task in waiting:
                task.cancel()
            _recheck_end(scope)
            changed = True
    return changed


def _repeats_start(sub: Any) -> bool:
    return any(
        isinstance(t.task_spec, StartEvent)
        and isinstance(
            t.task_spec.event_definition, MessageEventDefinition | SignalEventDefinition | EscalationEventDefinition
        )
        for t in sub.get_tasks(skip_subprocesses=True)
    )


def _fired(sub: Any) -> bool:
    return any(
        t.state == TaskState.COMPLETED
        for t in sub.get_tasks(skip_subprocesses=True)
        if isinstance(t.task_spec, StartEvent)
    )


def _unfinished(scope: Any) -> list[Task]:
    return list(TaskIterator(scope.task_tree, state=TaskState.NOT_FINISHED_MASK))


def _is_end(task: Task) -> bool:
    return type(task.task_spec).__name__ == "_EndJoin" or task.task_spec.name == "End"


def _cancel_scope_except(keep: Task) -> None:
    """Cancel everything still to do in `keep`'s scope but `keep` and what follows it."""
    for task in _unfinished(keep.workflow):
        if (
            task is keep
            or task.is_descendant_of(keep)
            or keep.is_descendant_of(task)
            or task.has_state(TaskState.FINISHED_MASK)
        ):
            continue
        task.cancel()


def _only_waiting_left(scope: Any, waiting: list[Task]) -> bool:
    for task in _unfinished(scope):
        if task in waiting or _is_end(task) or any(task.is_descendant_of(w) for w in waiting):
            continue
        if any(w.is_descendant_of(task) for w in waiting):
            continue  # the root of the scope, above everything
        return False
    return True


def _recheck_end(scope: Any) -> None:
    for task in _unfinished(scope):
        if type(task.task_spec).__name__ == "_EndJoin" and task.state == TaskState.WAITING:
            task.task_spec._update(task)


def _uncaught(workflow: BpmnWorkflow) -> Uncaught | None:
    kept, error = [], None
    for event in workflow.get_events():
        definition = event.event_definition
        if isinstance(definition, ErrorEventDefinition):
            if error is None:
                element = _thrower(workflow, definition)
                code = getattr(definition, "code", None)
                label = f"error {code!r}" if code else f"error {definition.name!r}" if definition.name else "an error"
                error = Uncaught(
                    element, f"{label} thrown by {element} was not caught by any boundary event or event sub-process"
                )
        elif not isinstance(definition, EscalationEventDefinition | SignalEventDefinition):
            kept.append(event)  # messages: left for whoever handles them
    workflow.bpmn_events.extend(kept)
    return error
