"""What one engine step may spend, so that no model can hold an instance (or the database) for long.

Every step runs under a `StepBudget` (see `Run`): at most `max_tasks` engine tasks and
`max_seconds` of wall time (from loading the state, with time set aside for saving what the
step did: `SAVE_SECONDS_PER_TASK` per task run), both checked before each task SpiffWorkflow
is about to run (`will_complete_task`), so a step that runs out stops between two tasks, at
a state SpiffWorkflow itself passes through, and the task it would have run next becomes
the incident. Two things happen inside a single SpiffWorkflow call, where no callback comes,
and are checked before SpiffWorkflow starts them (by guards around the task specs' update
hooks, installed when this module is imported):

- a call activity starting its process more than `max_call_depth` call activities deep
  (a process that calls itself would otherwise nest without end);
- a multi-instance activity with more than `max_instances` instances (a collection of a
  million items would be expanded in one call).

A refused activity is put in ERROR without starting it; retrying it starts it again (checked
again) once the data it reads was fixed. Scripts and expressions are also held to what is
left of the step's time (`remaining`), besides their own time limit.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (
    MultiInstanceTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptEngineTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity, SubWorkflowTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.runtime.variables import oversized

SAVE_SECONDS_PER_TASK = 0.000_2  # saving a task's audit event and state, reserved from the time budget
REFUSED = "pmoflow_refused"  # internal data of a task a guard refused to start: why
STOPPED = "pmoflow_stopped"  # internal data of the task a step stopped before: why


@dataclass(frozen=True)
class StepLimits:
    """The limits of one step (engine.core.config.Settings names them step_task_limit, ...)."""

    max_tasks: int = 10_000
    max_seconds: float = 5.0
    max_call_depth: int = 32
    max_instances: int = 1_000
    max_variable_depth: int = 32  # levels of lists and objects in one variable (engine.spiff.runtime.variables)
    max_variable_bytes: int = 1_048_576  # all variables of an instance, as JSON

    def __post_init__(self) -> None:
        least = min(self.max_tasks, self.max_call_depth, self.max_instances, self.max_variable_depth)
        if min(least, self.max_variable_bytes) < 1 or not self.max_seconds > 0:
            raise ValueError("step limits must be positive")


class LimitExceeded(Exception):  # noqa: N818 - an outcome the runtime turns into an incident
    """The step ran out of its budget before running `task`."""

    def __init__(self, task: Task, message: str, kind: str) -> None:
        super().__init__(message)
        self.task = task
        self.kind = kind


@dataclass
class Refusal:
    task: Task
    message: str
    kind: str


@dataclass
class StepBudget:
    """What is left of one step's budget; `clock` is seconds on a monotonic scale."""

    limits: StepLimits = field(default_factory=StepLimits)
    clock: Callable[[], float] = time.monotonic
    tasks: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        """Seconds left (never below a millisecond, so a time limit taken from it stays positive)."""
        return max(0.001, self.limits.max_seconds - self.elapsed())

    def before_task(self, task: Task) -> None:
        """Count a task SpiffWorkflow is about to run; raises LimitExceeded once the budget is spent."""
        self.tasks += 1
        if self.tasks > self.limits.max_tasks:
            raise LimitExceeded(
                task,
                f"the step ran {self.limits.max_tasks} tasks without waiting and was stopped "
                f"before {_name(task)} (a loop that never waits?)",
                "StepTaskLimit",
            )
        if self.elapsed() + self.tasks * SAVE_SECONDS_PER_TASK > self.limits.max_seconds:
            raise LimitExceeded(
                task,
                f"the step used its time budget ({self.elapsed():.1f} s running "
                f"{self.tasks - 1} tasks, and saving them, of {self.limits.max_seconds:g} s) "
                f"and was stopped before {_name(task)}",
                "StepTimeLimit",
            )

    def refuse(self, task: Task, message: str, kind: str) -> None:
        """Put `task` in ERROR without starting it (see `restart`) and remember why."""
        task._set_state(TaskState.ERROR)
        task._set_internal_data(**{REFUSED: message})
        self.refusals.append(Refusal(task, message, kind))


_current: ContextVar[StepBudget | None] = ContextVar("pmoflow_step_budget", default=None)


@contextmanager
def spending(budget: StepBudget) -> Iterator[StepBudget]:
    """Run SpiffWorkflow under `budget`: the guards and the sandbox see it."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def remaining_seconds() -> float | None:
    """Seconds left in the current step's budget, or None outside a step."""
    budget = _current.get()
    return None if budget is None else budget.remaining()


def restart(task: Task, data: dict[str, Any]) -> None:
    """Start a refused task again (its guard checks again), with `data` merged into what it reads."""
    task.internal_data.pop(REFUSED, None)
    if task.parent is not None:
        task.parent.data.update(data)  # the task inherits its parent's data when it starts
    task.data.update(data)
    task._set_state(TaskState.FUTURE)
    task.task_spec._update(task)


def halt(workflow: Any, stop: LimitExceeded) -> Task:
    """Put the task the step stopped before in ERROR (a retry runs it with a fresh budget) and return it;
    everything before it stays done. Another ready engine task stands in if that one is no longer ready."""
    task = stop.task
    if task.state != TaskState.READY:
        task = next(iter(workflow.get_tasks(state=TaskState.READY, manual=False)), task)
    if task.state == TaskState.READY:
        task._set_state(TaskState.ERROR)
        task._set_internal_data(**{STOPPED: str(stop)})
    return task


def element_of(task: Task) -> str | None:
    """The BPMN element of a task, or of the nearest task above it that has one (SpiffWorkflow's own
    start and end tasks have none): the call activity or sub-process whose process it runs in; for the
    top process's own start task, the first element after it."""
    node: Task | None = task
    while node is not None:
        if node.task_spec.bpmn_id:
            return str(node.task_spec.bpmn_id)
        parent = node.parent
        if parent is None and node.workflow is not node.workflow.top_workflow:
            parent = node.workflow.top_workflow.get_task_from_id(node.workflow.parent_task_id)
        node = parent
    return _element_below(task)


def _element_below(task: Task) -> str | None:
    """The first BPMN element after a task that has none above it (the top process's own start task,
    stopped before its start event ran): the element the process would have run next."""
    pending = list(task.children)
    while pending:
        node = pending.pop(0)
        if node.task_spec.bpmn_id:
            return str(node.task_spec.bpmn_id)
        pending.extend(node.children)
    return None


def _name(task: Task) -> str:
    spec = task.task_spec
    bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
    name = getattr(spec, "bpmn_name", None)
    return f"{bpmn_id!r} ({name})" if name and name != bpmn_id else repr(bpmn_id)


# ---------------------------------------------------------------- guards


def call_depth(task: Task) -> int:
    """How many call activities deep the workflow of `task` runs (0 in the top process)."""
    depth = 0
    workflow = task.workflow
    top = workflow.top_workflow
    while workflow is not top:
        caller = top.get_task_from_id(workflow.parent_task_id)
        if isinstance(caller.task_spec, CallActivity):
            depth += 1
        workflow = caller.workflow
    return depth


def _check_call(budget: StepBudget, spec: SubWorkflowTask, task: Task) -> bool:
    if not isinstance(spec, CallActivity) or task.workflow.top_workflow.subprocesses.get(task.id) is not None:
        return True
    depth = call_depth(task) + 1
    if depth <= budget.limits.max_call_depth:
        return True
    task._inherit_data()
    budget.refuse(
        task,
        f"call activity {_name(task)} would start process {spec.spec!r} {depth} call activities "
        f"deep (limit {budget.limits.max_call_depth}): does the process call itself without end?",
        "CallDepthLimit",
    )
    return False


def _instance_count(spec: MultiInstanceTask, task: Task) -> int | None:
    try:
        if spec.data_input is not None:
            value = spec.data_input.get(task)
            return len(value) if value is not None else None
        value = task.workflow.script_engine.evaluate(task, spec.cardinality)
        return value if isinstance(value, int) else None
    except Exception:  # noqa: BLE001 - SpiffWorkflow reports a bad input or cardinality itself, next
        return None


def _check_instances(budget: StepBudget, spec: MultiInstanceTask, task: Task) -> bool:
    task._inherit_data()  # what SpiffWorkflow's hook does first: the count reads the data
    count = _instance_count(spec, task)
    if count is None or count <= budget.limits.max_instances:
        return True
    source = f"collection {spec.data_input.bpmn_id!r}" if spec.data_input is not None else "loop cardinality"
    budget.refuse(
        task,
        f"multi-instance activity {_name(task)} would run {count} instances from its {source} "
        f"(limit {budget.limits.max_instances})",
        "MultiInstanceLimit",
    )
    return False


def _guard(cls: type, check: Callable[[StepBudget, Any, Task], bool]) -> None:
    original = cls.__dict__["_update_hook"]
    if getattr(original, "pmoflow_guard", False):
        return

    @functools.wraps(original)
    def _update_hook(self: Any, my_task: Task) -> Any:
        budget = _current.get()
        if budget is not None and not check(budget, self, my_task):
            return None  # refused: the task stays in ERROR
        return original(self, my_task)

    _update_hook.pmoflow_guard = True  # type: ignore[attr-defined]
    cls._update_hook = _update_hook  # type: ignore[attr-defined]


class VariableLimitExceeded(Exception):  # noqa: N818 - an outcome the runtime turns into an incident
    """A script left a variable that could not be saved (or loaded again); the task kept the data it had."""

    def __init__(self, task: Task, message: str) -> None:
        super().__init__(message)
        self.task = task


def _guard_script(cls: type) -> None:
    """After a script ran, its task's data must fit the variable bounds (`StepLimits.max_variable_depth`,
    `max_variable_bytes`): otherwise the task gets back the data it started with and fails, naming the
    variable, so the instance's incident names the element and a retry runs the script again."""
    original = cls.__dict__["_run_hook"]
    if getattr(original, "pmoflow_guard", False):
        return

    @functools.wraps(original)
    def _run_hook(self: Any, my_task: Task) -> Any:
        result = original(self, my_task)
        budget = _current.get()
        limits = budget.limits if budget is not None else StepLimits()
        problem = oversized(my_task.data, limits.max_variable_depth, limits.max_variable_bytes)
        if problem is not None:
            my_task.data = copy.deepcopy(my_task.parent.data) if my_task.parent is not None else {}
            raise VariableLimitExceeded(
                my_task, f"{_name(my_task)} set variable {problem[0]!r}, which {problem[1]}; the change was not kept"
            )
        return result

    _run_hook.pmoflow_guard = True  # type: ignore[attr-defined]
    cls._run_hook = _run_hook  # type: ignore[attr-defined]


_guard(SubWorkflowTask, _check_call)
_guard(ParallelMultiInstanceTask, _check_instances)
_guard(SequentialMultiInstanceTask, _check_instances)
_guard_script(ScriptEngineTask)
