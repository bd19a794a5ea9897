"""Running workflows: the only place that drives SpiffWorkflow's runtime objects.

A `Run` wraps one loaded workflow for the length of one engine step. It records what the
step did (completed elements, decisions, thrown messages) so the service layer can write
task rows and events in the same transaction, and reports BPMN-level failures as an
incident instead of raising.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.sandbox import SandboxedScriptEngine
from engine.spiff.extensions.connector import PmoflowConnectorTask
from engine.spiff.extensions.decisions import take_record
from engine.spiff.extensions.external import ExternalWork, PmoflowExternalTask, uses_external_tasks
from engine.spiff.model.specs import SpecBundle, dump_state, load_state
from engine.spiff.model.structure import IMPLICIT_SPLIT
from engine.spiff.runtime import events as event_runtime
from engine.spiff.runtime.budget import (
    REFUSED,
    STOPPED,
    LimitExceeded,
    StepBudget,
    StepLimits,
    element_of,
    halt,
    restart,
    spending,
)
from engine.spiff.runtime.compaction import compact

# ---------------------------------------------------------------- the injected clock

_now: contextvars.ContextVar[Callable[[], datetime]] = contextvars.ContextVar(
    "pmoflow_now", default=lambda: datetime.now(UTC)
)


class _ClockedDatetime(datetime):
    """SpiffWorkflow's timer module asks `datetime.now`; we answer from the injected clock."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        value = _now.get()()
        return value.astimezone(tz) if tz else value.replace(tzinfo=None)


spiff_timer.datetime = _ClockedDatetime  # type: ignore[misc]


@contextmanager
def clock_scope(now: Callable[[], datetime]) -> Iterator[None]:
    """Run engine code with `now` as the time source."""
    token = _now.set(now)
    try:
        yield
    finally:
        _now.reset(token)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class OpenTask:
    id: str
    process: str
    element_id: str
    name: str
    lane: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class ConnectorCall:
    id: str
    element_id: str
    name: str
    config: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True)
class Incident:
    element_id: str | None
    task_id: str | None
    message: str
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "task_id": self.task_id, "message": self.message,
                "kind": self.kind}


@dataclass
class StepLog:
    """What one engine step did, for the event stream."""

    completed: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)       # thrown here, for the other instances


class StepFailed(Exception):
    """The step failed in a way that left no consistent state to keep; nothing may be saved."""


# ---------------------------------------------------------------- the run


class Run:
    """One workflow, loaded for one engine step."""

    def __init__(self, workflow: BpmnWorkflow, engine: SandboxedScriptEngine, budget: StepBudget | None = None) -> None:
        workflow.script_engine = engine     # never serialized: set after every load
        self.wf = workflow
        self.log = StepLog()
        self._cycle_firings: set[str] = set()     # cycle timers whose firing this step put in the path
        event_runtime.observe(workflow, self.log.signals)
        self.incident: Incident | None = None
        self.budget = budget or StepBudget()    # what this step may spend (engine.spiff.runtime.budget)
        self._current: Task | None = None     # the task SpiffWorkflow is running, for incidents
        # (calendar name, start, ISO duration) -> due: set by the caller for timers on business time
        self.business_due: Callable[[str, datetime, str], datetime] | None = None

    @classmethod
    def start(cls, bundle: SpecBundle, variables: dict[str, Any], engine: SandboxedScriptEngine,
              limits: StepLimits | None = None) -> Run:
        """A new workflow with the start variables; call `advance()` to run it."""
        budget = StepBudget(limits or StepLimits())
        wf = BpmnWorkflow(bundle[0], bundle[1], script_engine=engine)
        wf.task_tree.data.update(variables)
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(variables)
        return cls(wf, engine, budget)

    @classmethod
    def load(cls, state: str, bundle: SpecBundle, engine: SandboxedScriptEngine,
             limits: StepLimits | None = None) -> Run:
        """The saved workflow, for one step (its budget counts the loading)."""
        budget = StepBudget(limits or StepLimits())
        return cls(load_state(state, bundle), engine, budget)

    def dump(self) -> str:
        """The state to save, with finished history compacted away."""
        compact(self.wf)
        return dump_state(self.wf)

    # ------------------------------------------------------------ steps

    def advance(self) -> None:
        """Run engine tasks until only human tasks or waits remain; a BPMN failure, or a step that runs
        out of its budget (engine.spiff.runtime.budget), becomes an incident."""
        with spending(self.budget):
            try:
                self._engine_steps()
                self.wf.refresh_timers()
                self._engine_steps()
                self._settle_events()
            except LimitExceeded as stop:
                self._stopped(stop)
            except (SpiffWorkflowException, SandboxError) as err:
                self._to_incident(err)
            except (Exception, RecursionError) as err:  # noqa: BLE001 - SpiffWorkflow's own faults (TypeError...)
                self._fault_to_incident(err)
        self._refused()
        self._business_timers()

    def begin(self) -> None:
        """Run a new instance. A process whose one start event is a message start event, started by request
        (not by its message), takes the request as that message, with the start variables as its payload, as
        Camunda's start by key does; otherwise this is `advance()`."""
        self.advance()
        if self.incident is not None:
            return
        live = [t for t in self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
                if not isinstance(t.task_spec, BoundaryEventSplit)]
        starts = [(t, d) for t in live for d in event_runtime.catches_of(t, MessageEventDefinition)
                  if isinstance(t.task_spec, StartEvent) and t.workflow is self.wf]
        if len(starts) != 1 or len(live) != 1:
            return
        task, definition = starts[0]
        try:
            with spending(self.budget):
                self.wf.send_event(BpmnEvent(definition, payload={}))
        except WorkflowException as err:
            self._to_incident(err)
            return
        self.advance()

    def complete(self, task_id: str, data: dict[str, Any]) -> None:
        """Complete a ready human task with `data` (plain update semantics) and advance."""
        self._finish(self.human_task(task_id), data)

    def _finish(self, task: Task, data: dict[str, Any]) -> None:
        task.data.update(data)
        self._running(task)
        try:
            with spending(self.budget):
                task.run()
        except (SpiffWorkflowException, SandboxError) as err:
            self._to_incident(err)
            return
        except LimitExceeded:
            raise
        except Exception as err:  # noqa: BLE001 - SpiffWorkflow's own faults (TypeError...)
            self._fault_to_incident(err)
            return
        self._record(task)
        self.advance()

    def _ready_manual(self, task_id: str, kind: type | None) -> Task:
        """The ready manual task with this id whose spec is a `kind` (None: a person's task); raises KeyError."""
        try:
            task = self.wf.get_task_from_id(UUID(task_id))
        except (ValueError, WorkflowException) as err:
            raise KeyError(task_id) from err
        if task is None or not task.task_spec.manual or task.state != TaskState.READY:
            raise KeyError(task_id)
        spec = task.task_spec
        if (kind is None and isinstance(spec, PmoflowConnectorTask | PmoflowExternalTask)) or (
                kind is not None and not isinstance(spec, kind)):
            raise KeyError(task_id)
        return task

    def human_task(self, task_id: str) -> Task:
        """The ready human task with this id; raises KeyError if there is none."""
        return self._ready_manual(task_id, None)

    def connector_tasks(self) -> list[ConnectorCall]:
        """Ready service tasks waiting for the worker's HTTP call."""
        return self.ready_work()[1]

    def complete_connector(self, task_id: str, data: dict[str, Any]) -> None:
        """Complete a waiting service task with the variables its call produced, and advance."""
        self._finish(self._ready_manual(task_id, PmoflowConnectorTask), data)

    def external_tasks(self) -> list[ExternalWork]:
        """Ready external tasks, waiting for a worker."""
        return self.ready_work()[2]

    def complete_external(self, task_id: str, variables: dict[str, Any]) -> None:
        """Complete a ready external task with the worker's variables (under the task's result variable, if
        it names one), and advance; raises KeyError if the task is not ready."""
        task = self._ready_manual(task_id, PmoflowExternalTask)
        result = task.task_spec.external.get("result_variable")
        self._finish(task, {result: variables} if result else variables)

    def throw_error(self, task_id: str, code: str, message: str | None, variables: dict[str, Any]) -> bool:
        """Throw a BPMN error with `code` at a ready external task; its variables go to the catching element.

        Returns False, changing nothing but raising an incident on the element, if no error boundary event
        or event sub-process catches it. Raises KeyError if the task is not ready."""
        task = self._ready_manual(task_id, PmoflowExternalTask)
        event = BpmnEvent(ErrorEventDefinition(code, code=code), payload=dict(variables), target=task.workflow)
        before = len(self.wf.bpmn_events)
        catchers = list(self.wf.event_manager.tasks.values())
        try:
            self.wf.top_workflow.catch(event)
        except (SpiffWorkflowException, SandboxError) as err:
            self._to_incident(err)
            return True
        for catcher in catchers:                        # the variables go on the path that caught the error
            if catcher.task_spec.event_definition.has_fired(catcher):
                catcher.data.update(variables)
        if len(self.wf.bpmn_events) > before:          # nothing caught it: Spiff kept it as an outgoing event
            del self.wf.bpmn_events[before:]
            spec = task.task_spec
            self.incident = Incident(
                element_id=spec.bpmn_id, task_id=str(task.id), kind="UncaughtBpmnError",
                message=f"the external worker threw BPMN error {code!r}" + (f" ({message})" if message else "")
                + " and no error boundary event or event sub-process catches it")
            return False
        self.advance()
        return True

    def correlate(self, message: str, payload: dict[str, Any]) -> bool:
        """Deliver a message and merge its variables; False if nothing in this instance waits for it."""
        waiting = [(t, d) for t in self.wf.get_tasks(state=TaskState.WAITING)
                   for d in event_runtime.catches_of(t, MessageEventDefinition) if d.name == message]
        if not waiting:
            return False
        task, definition = waiting[0]
        task.data.update(payload)
        try:
            with spending(self.budget):
                self.wf.send_event(BpmnEvent(definition, payload=payload))
        except WorkflowException:
            return False
        self.advance()
        return True

    def waiting_messages(self) -> list[str]:
        return [str(d.name) for t in self.wf.get_tasks(state=TaskState.WAITING)
                for d in event_runtime.catches_of(t, MessageEventDefinition)]

    def cancel(self) -> None:
        self.wf.cancel()

    def set_variables(self, changes: dict[str, Any], removed: list[str]) -> None:
        """Change variables in the data of every live task (an administrator's correction); no step runs."""
        live = self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED)
        targets = live or ([self.wf.last_task] if self.wf.last_task is not None else [])
        targets += event_runtime.inherited_from(live)       # a waiting event takes its parent's data when it fires
        for task in targets:
            for key in removed:
                task.data.pop(key, None)
            task.data.update(changes)

    def retry(self, data: dict[str, Any]) -> None:
        """Re-run the task in error with `data` merged into its data, then advance. A task a limit kept
        from starting (engine.spiff.runtime.budget) is started again, and checked again."""
        failed = self.wf.get_tasks(state=TaskState.ERROR)
        self.incident = None
        with spending(self.budget):
            for task in failed:
                if task.internal_data.get(REFUSED) is not None:
                    restart(task, data)
                    continue
                task.internal_data.pop(STOPPED, None)
                task.data.update(data)
                if task.internal_data.pop("pmoflow_failed_update", False):
                    task._set_state(TaskState.FUTURE)     # it failed deciding whether to run: decide again
                    task.task_spec._update(task)
                else:
                    task._set_state(TaskState.READY)
        self.advance()

    # ------------------------------------------------------------ events (engine.spiff.runtime.events)

    def signal(self, name: str, variables: dict[str, Any]) -> bool:
        """Deliver a signal to every event of this instance waiting for it (their data takes `variables`),
        and advance; False, with nothing changed, if none waits."""
        with spending(self.budget):         # what the signal starts is checked by the budget's guards
            delivered = event_runtime.deliver(self.wf, name, variables)
        if not delivered:
            return False
        self.advance()
        return True

    def reevaluate_conditions(self) -> bool:
        """Evaluate the conditions of waiting conditional events again and advance if one holds."""
        with spending(self.budget):
            fired = event_runtime.fire_conditions(self.wf)
        if not fired:
            return False
        self.advance()
        return True

    def _settle_events(self) -> None:
        """After the engine steps: conditions that now hold fire; an error nothing caught is an incident."""
        uncaught = event_runtime.settle(self.wf, self._engine_steps)
        if uncaught is not None and self.incident is None:
            self.incident = Incident(element_id=uncaught.element_id, task_id=None, message=uncaught.message,
                                     kind="UncaughtError")

    # ------------------------------------------------------------ observation

    @property
    def status(self) -> str:
        if self.incident is not None or self.wf.get_tasks(state=TaskState.ERROR):
            return "error"
        if self.wf.is_completed():
            return "completed" if self.wf.success else "cancelled"
        return "running"

    def open_tasks(self) -> list[OpenTask]:
        """Ready human tasks, with the due time of their boundary timers."""
        return self.ready_work()[0]

    def ready_work(self) -> tuple[list[OpenTask], list[ConnectorCall], list[ExternalWork]]:
        """In one walk of the task tree: ready human tasks (`open_tasks`), ready service tasks waiting for
        the worker's HTTP call (`connector_tasks`) and ready external tasks (`external_tasks`)."""
        people: list[OpenTask] = []
        calls: list[ConnectorCall] = []
        external: list[ExternalWork] = []
        for task in self.wf.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            if isinstance(spec, PmoflowConnectorTask):
                calls.append(ConnectorCall(id=str(task.id), element_id=spec.bpmn_id,
                                           name=spec.bpmn_name or spec.bpmn_id, config=spec.connector,
                                           data=task.data))
            elif isinstance(spec, PmoflowExternalTask):
                external.append(ExternalWork(id=str(task.id), process=task.workflow.spec.name,
                                             element_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id,
                                             config=spec.external, data=task.data))
            else:
                people.append(OpenTask(
                    id=str(task.id), process=task.workflow.spec.name, element_id=spec.bpmn_id,
                    name=spec.bpmn_name or spec.bpmn_id, lane=spec.lane, due_at=_boundary_due(task, self.timers),
                ))
        return people, calls, external

    @property
    def has_external_tasks(self) -> bool:
        """Whether the definition has external tasks at all (if not, no table needs syncing)."""
        return uses_external_tasks(self.wf.spec, self.wf.subprocess_specs)

    def next_due(self) -> datetime | None:
        """The earliest time a waiting timer of this instance fires."""
        dues = [d for t in self.wf.get_tasks(state=TaskState.WAITING) if (d := timer_due(t)) is not None]
        return min(dues) if dues else None

    def variables(self) -> dict[str, Any]:
        """The instance's current variables, as plain JSON values."""
        if self.wf.is_completed():
            data = self.wf.data or (self.wf.last_task.data if self.wf.last_task else {})
        else:
            data = {}
            for task in self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR
                                          | TaskState.STARTED):
                data.update(task.data)
            if not data and self.wf.last_task is not None:
                data = self.wf.last_task.data
        return jsonable({k: v for k, v in data.items() if not k.startswith("_")})

    # ------------------------------------------------------------ internals

    @property
    def timers(self) -> dict[str, dict[str, Any]]:
        """Timer element id -> kind, calendar (from the definition; see engine.spiff.extensions.sla)."""
        return dict(getattr(self.wf.spec, "pmoflow", {}).get("timers", {}))

    def _business_timers(self) -> None:
        """Re-arm timers that run on a business calendar: their due time counts working time only.

        Spiff arms a duration timer at now + duration (calendar time); in the same step, before
        anything can fire (working time never passes faster than the clock), the due time is
        replaced by the calendar's and the task is marked so that it is done once.
        """
        timers = self.timers
        if self.business_due is None or not any(t.get("calendar") for t in timers.values()):
            return                                  # no timer on a calendar: no walk of the waiting tasks
        for task in self.wf.get_tasks(state=TaskState.WAITING):
            spec = task.task_spec
            definition = getattr(spec, "event_definition", None)
            calendar = timers.get(spec.bpmn_id or "", {}).get("calendar")
            if (not calendar or not isinstance(definition, TimerEventDefinition)
                    or isinstance(definition, CycleTimerEventDefinition)
                    or task._get_internal_data("event_value") is None or task._get_internal_data("business_time")):
                continue
            try:
                duration = self.wf.script_engine.evaluate(task, definition.expression)
                due = self.business_due(calendar, _now.get()(), str(duration))
            except (SpiffWorkflowException, SandboxError, ValueError) as err:
                self.incident = Incident(element_id=spec.bpmn_id, task_id=str(task.id),
                                         message=f"business-time timer: {err}", kind=type(err).__name__)
                return
            task._set_internal_data(event_value=due.isoformat(), business_time=calendar)

    # ------------------------------------------------------------ the step's budget

    COMPACT_EVERY = 16          # tasks run between two looks at the depth of the task tree
    COMPACT_DEPTH = 32          # deeper than this, compact: every search walks the tree (and stops at depth 1,000)

    def _engine_steps(self) -> None:
        self.wf.do_engine_steps(will_complete_task=self._before_task, did_complete_task=self._record)

    def _before_task(self, task: Task) -> None:
        """Before SpiffWorkflow runs an engine task: charge the budget (raises LimitExceeded), and keep
        the task tree of a long loop shallow, as between steps (`dump`), so it neither slows down nor
        stalls at SpiffWorkflow's search depth."""
        self._current = task                     # the task to blame for a fault (_fault_to_incident)
        self.budget.before_task(task)
        if self.budget.tasks % self.COMPACT_EVERY == 0 and task.depth > self.COMPACT_DEPTH:
            compact(self.wf)

    def _stopped(self, stop: LimitExceeded) -> None:
        """The step ran out of budget: the task it stopped before is the incident (engine.spiff.runtime.budget.halt)."""
        task = halt(self.wf, stop)
        self.incident = Incident(element_id=element_of(task), task_id=str(task.id), message=str(stop),
                                 kind=stop.kind)

    def _refused(self) -> None:
        """An activity a limit kept from starting (a call too deep, too many instances) is the incident."""
        refusals, self.budget.refusals = self.budget.refusals, []
        if refusals and self.incident is None:
            first = refusals[0]
            self.incident = Incident(element_id=element_of(first.task), task_id=str(first.task.id),
                                     message=first.message, kind=first.kind)

    def _running(self, task: Task) -> None:
        self._current = task

    def _record(self, task: Task) -> None:
        spec = task.task_spec
        if not spec.bpmn_id or spec.bpmn_id.endswith((".BoundaryEventSplit", IMPLICIT_SPLIT)):
            return
        entry = {"task_id": str(task.id), "element_id": spec.bpmn_id, "name": spec.bpmn_name,
                 "type": type(spec).__name__, "process": task.workflow.spec.name}
        if entry["task_id"] in self._cycle_firings:
            return                          # a cycle timer's completion: its last firing is in the path already
        self.log.completed.append(entry)
        if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
            self.log.timers.append({**entry, **_timer_context(task)})
        parent = task.parent
        if parent is not None and isinstance(getattr(parent.task_spec, "event_definition", None),
                                             CycleTimerEventDefinition):
            # A cycle timer never completes; each firing starts its outgoing path as a new child.
            cycle = parent.task_spec
            fired = {"task_id": str(parent.id), "element_id": cycle.bpmn_id, "name": cycle.bpmn_name,
                     "type": type(cycle).__name__, "process": entry["process"]}
            self.log.timers.append({**fired, **_timer_context(parent)})
            if parent.state != TaskState.COMPLETED:         # the path shows each firing, before its path
                self.log.completed.insert(len(self.log.completed) - 1, fired)
                self._cycle_firings.add(fired["task_id"])
        record = take_record(task)
        if record is not None:
            self.log.decisions.append({**entry, **record})
        elif isinstance(spec, BusinessRuleTaskMixin):      # specs deployed before engine.dmn existed
            table = spec.dmnEngine.decision_table
            outputs = [o.name for o in table.outputs]
            self.log.decisions.append({
                **entry, "decision_table": table.id, "hit_policy": table.hit_policy,
                "inputs": jsonable({i.expression or i.label: _input_value(task, i) for i in table.inputs}),
                "outputs": jsonable({k: task.data.get(k) for k in outputs}),
            })

    def _fault_to_incident(self, err: Exception) -> None:
        """An error SpiffWorkflow did not expect (a TypeError inside a multi-instance, a RecursionError):
        the task it was running goes to ERROR, so a retry runs it again, and the instance gets an incident
        naming it. Without a task to blame the step is not applied (StepFailed)."""
        task = getattr(err, "task", None) or _innermost_task(err) or self._current
        if task is None:
            raise StepFailed(f"{type(err).__name__}: {err}") from err
        running = self._current
        if running is not None and running is not task and running.state == TaskState.COMPLETED:
            self._record(running)           # it completed; the fault was in updating its successor
        if task.state != TaskState.ERROR:
            if not task.has_state(TaskState.READY | TaskState.STARTED):
                task.internal_data["pmoflow_failed_update"] = True
            task._set_state(TaskState.ERROR)
        message = _describe(err) if isinstance(err, SpiffWorkflowException | SandboxError) else fault_message(task, err)
        self.incident = Incident(element_id=_model_element(task), task_id=str(task.id), message=message,
                                 kind=type(getattr(err, "exception", None) or err).__name__)

    def _to_incident(self, err: Exception) -> None:
        failed = self.wf.get_tasks(state=TaskState.ERROR)
        task = getattr(err, "task", None) or (failed[0] if failed else None)
        if not failed:                      # raised while deciding about a task, not while running it
            self._fault_to_incident(err)
            return
        message = _describe(err)
        self.incident = Incident(
            element_id=_model_element(task) if task is not None else None,
            task_id=str(task.id) if task is not None else None,
            message=message, kind=type(getattr(err, "exception", None) or err).__name__,
        )


def _model_element(task: Task) -> str | None:
    """The model's element id of a task: an implicit split (engine.spiff.model.structure) is its activity."""
    return (task.task_spec.bpmn_id or "").removesuffix(IMPLICIT_SPLIT) or None


def _innermost_task(err: BaseException) -> Task | None:
    """The task SpiffWorkflow was working on where the error was raised: a run of one task updates
    its successors, and the fault belongs to the successor (`my_task` in SpiffWorkflow's frames)."""
    found = None
    tb = err.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("my_task")
        if isinstance(candidate, Task):
            found = candidate
        tb = tb.tb_next
    return found


def fault_message(task: Task, err: BaseException) -> str:
    """What went wrong, in the model's terms where we can tell (a multi-instance input that is missing)."""
    spec = task.task_spec
    collection = getattr(getattr(spec, "data_input", None), "bpmn_id", None)
    if isinstance(spec, MultiInstanceTask) and collection and collection not in task.data:
        return f"multi-instance input collection {collection!r} is not a variable of the instance"
    if isinstance(err, RecursionError):
        return "the model recursed too deeply (RecursionError)"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _timer_context(task: Task) -> dict[str, Any]:
    """For a fired boundary timer: the human task it was attached to, and whether it interrupted it."""
    spec = task.task_spec
    parent = task.parent
    if not isinstance(spec, BoundaryEvent) or parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return {"boundary": False}
    attached = [t for t in parent.children if t is not task and t.task_spec.manual]
    return {
        "boundary": True, "interrupting": bool(spec.cancel_activity),
        "kind": timer_kind(task, dict(getattr(task.workflow.top_workflow.spec, "pmoflow", {}).get("timers", {}))),
        "attached_to": attached[0].task_spec.bpmn_id if attached else None,
        "attached_task_id": str(attached[0].id) if attached else None,
    }


def _describe(err: Exception) -> str:
    inner = getattr(err, "exception", None)
    base = str(err.args[0]) if err.args else str(err)
    if inner is not None and str(inner) and str(inner) not in base:
        base = f"{base}: {type(inner).__name__}: {inner}"
    line = getattr(err, "line_number", None)
    return f"{base} (line {line})" if line else base


def _input_value(task: Task, table_input: Any) -> Any:
    try:
        return task.workflow.script_engine.evaluate(task, table_input.expression)
    except Exception:  # noqa: BLE001 - the decision already ran; this is only for the record
        return None


def _boundary_due(task: Task, timers: dict[str, dict[str, Any]] | None = None) -> datetime | None:
    """The earliest due time of the task's boundary timers, reminders left out."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [d for sibling in parent.children if sibling is not task and timer_kind(sibling, timers or {}) != "reminder"
            and (d := timer_due(sibling)) is not None]
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


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Variables as JSON: dates as ISO text, Decimals as numbers, sets as lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple | set | frozenset):
        if all(type(v) in _PLAIN for v in value):       # the common case, ~20x faster on long lists
            return list(value)
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))
