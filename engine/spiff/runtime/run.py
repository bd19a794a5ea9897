"""Running workflows: the only place that drives SpiffWorkflow's runtime objects.

A `Run` wraps one loaded workflow for the length of one engine step. It records what the
step did (completed elements, decisions, thrown messages) so the service layer can write
task rows and events in the same transaction, and reports BPMN-level failures as an
incident instead of raising."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.sandbox import SandboxedScriptEngine
from engine.spiff.extensions.connector import PmoflowConnectorTask
from engine.spiff.extensions.external import ExternalWork, PmoflowExternalTask, uses_external_tasks
from engine.spiff.model.specs import SpecBundle, dump_state, load_state
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
from engine.spiff.runtime.incidents import (
    Incident,
    StepFailed,
    describe_error,
    fault_message,
    innermost_task,
    model_element,
)
from engine.spiff.runtime.steplog import StepLog
from engine.spiff.runtime.timers import boundary_due, rearm_business_timers, timer_due
from engine.spiff.runtime.variables import jsonable
from engine.spiff.runtime.work import ConnectorCall, OpenTask


class Run:
    """One workflow, loaded for one engine step."""

    def __init__(self, workflow: BpmnWorkflow, engine: SandboxedScriptEngine, budget: StepBudget | None = None) -> None:
        workflow.script_engine = engine  # never serialized: set after every load
        self.wf = workflow
        self.log = StepLog()
        event_runtime.observe(workflow, self.log.signals)
        self.incident: Incident | None = None
        self.budget = budget or StepBudget()  # what this step may spend (engine.spiff.runtime.budget)
        self._current: Task | None = None  # the task SpiffWorkflow is running, for incidents
        # (calendar name, start, ISO duration) -> due: set by the caller for timers on business time
        self.business_due: Callable[[str, datetime, str], datetime] | None = None

    @classmethod
    def start(
        cls,
        bundle: SpecBundle,
        variables: dict[str, Any],
        engine: SandboxedScriptEngine,
        limits: StepLimits | None = None,
    ) -> Run:
        """A new workflow with the start variables; call `advance()` to run it."""
        budget = StepBudget(limits or StepLimits())
        wf = BpmnWorkflow(bundle[0], bundle[1], script_engine=engine)
        wf.task_tree.data.update(variables)
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(variables)
        return cls(wf, engine, budget)

    @classmethod
    def load(
        cls, state: str, bundle: SpecBundle, engine: SandboxedScriptEngine, limits: StepLimits | None = None
    ) -> Run:
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
        self.rearm_business_timers()

    def begin(self) -> None:
        """Run a new instance. A process whose one start event is a message start event, started by request
        (not by its message), takes the request as that message, with the start variables as its payload, as
        Camunda's start by key does; otherwise this is `advance()`."""
        self.advance()
        if self.incident is not None:
            return
        live = [
            t
            for t in self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
            if not isinstance(t.task_spec, BoundaryEventSplit)
        ]
        starts = [
            (t, d)
            for t in live
            for d in event_runtime.catches_of(t, MessageEventDefinition)
            if isinstance(t.task_spec, StartEvent) and t.workflow is self.wf
        ]
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
        self.log.record(task)
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
            kind is not None and not isinstance(spec, kind)
        ):
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
        for catcher in catchers:  # the variables go on the path that caught the error
            if catcher.task_spec.event_definition.has_fired(catcher):
                catcher.data.update(variables)
        if len(self.wf.bpmn_events) > before:  # nothing caught it: Spiff kept it as an outgoing event
            del self.wf.bpmn_events[before:]
            spec = task.task_spec
            self.incident = Incident(
                element_id=spec.bpmn_id,
                task_id=str(task.id),
                kind="UncaughtBpmnError",
                message=f"the external worker threw BPMN error {code!r}"
                + (f" ({message})" if message else "")
                + " and no error boundary event or event sub-process catches it",
            )
            return False
        self.advance()
        return True

    def correlate(self, message: str, payload: dict[str, Any]) -> bool:
        """Deliver a message and merge its variables; False if nothing in this instance waits for it."""
        waiting = [
            (t, d)
            for t in self.wf.get_tasks(state=TaskState.WAITING)
            for d in event_runtime.catches_of(t, MessageEventDefinition)
            if d.name == message
        ]
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
        return [
            str(d.name)
            for t in self.wf.get_tasks(state=TaskState.WAITING)
            for d in event_runtime.catches_of(t, MessageEventDefinition)
        ]

    def cancel(self) -> None:
        self.wf.cancel()

    def set_variables(self, changes: dict[str, Any], removed: list[str]) -> None:
        """Change variables in the data of every live task (an administrator's correction); no step runs."""
        live = self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED)
        targets = live or ([self.wf.last_task] if self.wf.last_task is not None else [])
        targets += event_runtime.inherited_from(live)  # a waiting event takes its parent's data when it fires
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
                    task._set_state(TaskState.FUTURE)  # it failed deciding whether to run: decide again
                    task.task_spec._update(task)
                else:
                    task._set_state(TaskState.READY)
        self.advance()

    # ------------------------------------------------------------ events (engine.spiff.runtime.events)

    def signal(self, name: str, variables: dict[str, Any]) -> bool:
        """Deliver a signal to every event of this instance waiting for it (their data takes `variables`),
        and advance; False, with nothing changed, if none waits."""
        with spending(self.budget):  # what the signal starts is checked by the budget's guards
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
            self.incident = Incident(
                element_id=uncaught.element_id, task_id=None, message=uncaught.message, kind="UncaughtError"
            )

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
                calls.append(
                    ConnectorCall(
                        id=str(task.id),
                        element_id=spec.bpmn_id,
                        name=spec.bpmn_name or spec.bpmn_id,
                        config=spec.connector,
                        data=task.data,
                    )
                )
            elif isinstance(spec, PmoflowExternalTask):
                external.append(
                    ExternalWork(
                        id=str(task.id),
                        process=task.workflow.spec.name,
                        element_id=spec.bpmn_id,
                        name=spec.bpmn_name or spec.bpmn_id,
                        config=spec.external,
                        data=task.data,
                    )
                )
            else:
                people.append(
                    OpenTask(
                        id=str(task.id),
                        process=task.workflow.spec.name,
                        element_id=spec.bpmn_id,
                        name=spec.bpmn_name or spec.bpmn_id,
                        lane=spec.lane,
                        due_at=boundary_due(task, self.timers),
                    )
                )
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
        result: dict[str, Any] = jsonable(self.live_variables())
        return result

    def live_variables(self) -> dict[str, Any]:
        """The instance's current variables as the workflow holds them (not converted)."""
        if self.wf.is_completed():
            data = self.wf.data or (self.wf.last_task.data if self.wf.last_task else {})
        else:
            data = {}
            for task in self.wf.get_tasks(
                state=TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED
            ):
                data.update(task.data)
            if not data and self.wf.last_task is not None:
                data = self.wf.last_task.data
        return {k: v for k, v in data.items() if not k.startswith("_")}

    # ------------------------------------------------------------ internals

    @property
    def timers(self) -> dict[str, dict[str, Any]]:
        """Timer element id -> kind, calendar (from the definition; see engine.spiff.extensions.sla)."""
        return dict(getattr(self.wf.spec, "pmoflow", {}).get("timers", {}))

    def rearm_business_timers(self) -> None:
        """Re-arm the waiting timers that run on a business calendar (engine.spiff.runtime.timers); a timer
        that cannot be re-armed is the incident."""
        incident = rearm_business_timers(self.wf, self.timers, self.business_due)
        if incident is not None:
            self.incident = incident

    # ------------------------------------------------------------ the step's budget

    COMPACT_EVERY = 16  # tasks run between two looks at the depth of the task tree
    COMPACT_DEPTH = 32  # deeper than this, compact: every search walks the tree (and stops at depth 1,000)

    def _engine_steps(self) -> None:
        self.wf.do_engine_steps(will_complete_task=self._before_task, did_complete_task=self.log.record)

    def _before_task(self, task: Task) -> None:
        """Before SpiffWorkflow runs an engine task: charge the budget (raises LimitExceeded), and keep
        the task tree of a long loop shallow, as between steps (`dump`), so it neither slows down nor
        stalls at SpiffWorkflow's search depth."""
        self._current = task  # the task to blame for a fault (_fault_to_incident)
        self.budget.before_task(task)
        if self.budget.tasks % self.COMPACT_EVERY == 0 and task.depth > self.COMPACT_DEPTH:
            compact(self.wf)

    def _stopped(self, stop: LimitExceeded) -> None:
        """The step ran out of budget: the task it stopped before is the incident (engine.spiff.runtime.budget.halt)."""
        task = halt(self.wf, stop)
        self.incident = Incident(element_id=element_of(task), task_id=str(task.id), message=str(stop), kind=stop.kind)

    def _refused(self) -> None:
        """An activity a limit kept from starting (a call too deep, too many instances) is the incident."""
        refusals, self.budget.refusals = self.budget.refusals, []
        if refusals and self.incident is None:
            first = refusals[0]
            self.incident = Incident(
                element_id=element_of(first.task), task_id=str(first.task.id), message=first.message, kind=first.kind
            )

    def _running(self, task: Task) -> None:
        self._current = task

    def _fault_to_incident(self, err: Exception) -> None:
        """An error SpiffWorkflow did not expect (a TypeError inside a multi-instance, a RecursionError):
        the task it was running goes to ERROR, so a retry runs it again, and the instance gets an incident
        naming it. Without a task to blame the step is not applied (StepFailed)."""
        task = getattr(err, "task", None) or innermost_task(err) or self._current
        if task is None:
            raise StepFailed(f"{type(err).__name__}: {err}") from err
        running = self._current
        if running is not None and running is not task and running.state == TaskState.COMPLETED:
            self.log.record(running)  # it completed; the fault was in updating its successor
        if task.state != TaskState.ERROR:
            if not task.has_state(TaskState.READY | TaskState.STARTED):
                task.internal_data["pmoflow_failed_update"] = True
            task._set_state(TaskState.ERROR)
        expected = isinstance(err, SpiffWorkflowException | SandboxError)
        message = describe_error(err) if expected else fault_message(task, err)
        self.incident = Incident(
            element_id=model_element(task),
            task_id=str(task.id),
            message=message,
            kind=type(getattr(err, "exception", None) or err).__name__,
        )

    def _to_incident(self, err: Exception) -> None:
        failed = self.wf.get_tasks(state=TaskState.ERROR)
        task = getattr(err, "task", None) or (failed[0] if failed else None)
        if not failed:  # raised while deciding about a task, not while running it
            self._fault_to_incident(err)
            return
        message = describe_error(err)
        self.incident = Incident(
            element_id=model_element(task) if task is not None else None,
            task_id=str(task.id) if task is not None else None,
            message=message,
            kind=type(getattr(err, "exception", None) or err).__name__,
        )
