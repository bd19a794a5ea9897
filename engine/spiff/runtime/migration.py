"""Moving a loaded workflow onto another version's specs, with SpiffWorkflow's own diff.

`SpiffWorkflow.bpmn.util.diff` aligns the old task specs with the new ones (by BPMN id, then by
structure) and tells which of a workflow's tasks are removed or changed. We use its diff and its
alignment, and migrate the way its `migrate_workflow` does, with two differences: a reset task
keeps its own data (an administrator's corrections live there), and a waiting timer whose element
did not change keeps its due time. Timers that changed (or were added as boundary events to a
waiting task) are armed again, counting from when the task they are attached to became ready.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, diff_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.model.specs import SpecBundle, spec_registry
from engine.spiff.runtime.clock import clock_scope
from engine.spiff.runtime.run import Run
from engine.spiff.runtime.timers import timer_due

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
INTERNAL_SUFFIXES = (".BoundaryEventSplit", ".BoundaryEventJoin")
INTERNAL_NAMES = {"Start", "End", "Root"}
STATE_NAMES = {
    TaskState.READY: "ready",
    TaskState.WAITING: "waiting",
    TaskState.STARTED: "started",
    TaskState.ERROR: "error",
}


@dataclass(frozen=True)
class ElementChange:
    process: str
    element_id: str
    name: str
    type: str
    change: str  # added, removed or changed
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveElement:
    task_id: str
    process: str
    element_id: str
    name: str
    type: str
    state: str  # ready, waiting, started (a subprocess) or error
    problem: str | None  # why this task cannot move, or None
    due_at: datetime | None = None  # for a waiting timer, when it fires now


@dataclass(frozen=True)
class Comparison:
    changes: list[ElementChange]
    live: list[LiveElement]
    problems: list[str]


def _is_element(spec: Any) -> bool:
    name = spec.name or ""
    return bool(getattr(spec, "bpmn_id", None)) and name not in INTERNAL_NAMES and not name.endswith(INTERNAL_SUFFIXES)


def _label(spec: Any) -> str:
    return str(getattr(spec, "bpmn_name", None) or spec.bpmn_id)


def _spec_changes(process: str, diff: SpecDiff) -> list[ElementChange]:
    # an element matched by structure under another id counts as removed, and its match as added
    renamed = {s: t for s, t in diff.alignment.items() if t is not None and t.name != s.name}
    out = [
        ElementChange(process, s.bpmn_id, _label(s), type(s).__name__, "removed")
        for s in diff.removed + list(renamed)
        if _is_element(s)
    ]
    out += [
        ElementChange(
            process,
            s.bpmn_id,
            _label(s),
            type(s).__name__,
            "changed",
            tuple(a for a in attrs if a not in ("inputs", "outputs")) or tuple(attrs),
        )
        for s, attrs in diff.changed.items()
        if _is_element(s) and s not in renamed
    ]
    out += [
        ElementChange(process, s.bpmn_id, _label(s), type(s).__name__, "added")
        for s in diff.added + list(renamed.values())
        if _is_element(s)
    ]
    return sorted(out, key=lambda c: (c.change, c.element_id))


def _live(process: str, wf: Any, diff: WorkflowDiff) -> list[LiveElement]:
    out = []
    for task in wf.get_tasks(state=LIVE, skip_subprocesses=True):
        spec = task.task_spec
        if not _is_element(spec):
            continue
        target = diff.alignment.get(task)
        problem = None
        if target is None or target.name != spec.name:
            problem = (
                f"{spec.bpmn_id} ({_label(spec)}) is {STATE_NAMES.get(task.state, 'active')} and does not "
                f"exist in the target version"
            )
        elif type(target).__name__ != type(spec).__name__:
            problem = (
                f"{spec.bpmn_id} ({_label(spec)}) is {STATE_NAMES.get(task.state, 'active')} and changed type "
                f"from {type(spec).__name__} to {type(target).__name__} in the target version"
            )
        elif _gains_boundary_events(task, target, diff):
            problem = (
                f"{spec.bpmn_id} ({_label(spec)}) is {STATE_NAMES.get(task.state, 'active')} and gains its "
                f"first boundary event in the target version; move it once it has finished"
            )
        out.append(
            LiveElement(
                str(task.id),
                process,
                spec.bpmn_id,
                _label(spec),
                type(spec).__name__,
                STATE_NAMES.get(task.state, "active"),
                problem,
                timer_due(task),
            )
        )
    return out


def _gains_boundary_events(task: Task, target: Any, diff: WorkflowDiff) -> bool:
    """A task without boundary events whose element has some in the target: nothing would arm or join them."""
    parent = task.parent
    wanted = [s for s in target.inputs if isinstance(s, BoundaryEventSplit)]
    return bool(wanted) and (parent is None or not isinstance(parent.task_spec, BoundaryEventSplit))


def compare(run: Run, bundle: SpecBundle) -> Comparison:
    """What moving the run onto `bundle` changes, and what stops it (every problem, each naming its element)."""
    wf: BpmnWorkflow = run.wf
    registry = spec_registry()
    top, subs = diff_workflow(registry, wf, bundle[0], bundle[1])
    changes = _spec_changes(wf.spec.name, SpecDiff(registry, wf.spec, bundle[0]))
    live = _live(wf.spec.name, wf, top)
    problems = []
    if wf.spec.name != bundle[0].name:
        problems.append(f"the target version's process is {bundle[0].name}, not {wf.spec.name}")
    for name, spec in wf.subprocess_specs.items():
        if name in bundle[1]:
            changes += _spec_changes(name, SpecDiff(registry, spec, bundle[1][name]))
        else:
            changes.append(ElementChange(name, name, name, "process", "removed"))
    changes += [ElementChange(n, n, n, "process", "added") for n in bundle[1] if n not in wf.subprocess_specs]
    for sp_id, sp in wf.subprocesses.items():
        sp_diff = subs.get(sp_id)
        if sp_diff is None:
            problems.append(f"subprocess {sp.spec.name} is running and does not exist in the target version")
            continue
        live += _live(sp.spec.name, sp, sp_diff)
    problems += [e.problem for e in live if e.problem]
    return Comparison(changes, live, problems)


def apply(run: Run, bundle: SpecBundle, changed: set[str], ready_since: dict[str, datetime]) -> None:
    """Move the run onto `bundle` (call `compare` first and stop on any problem).

    `changed` holds the element ids whose timers must be armed again; `ready_since` maps human task
    ids to when they became ready: a boundary timer on one of them counts from then (others from now)."""

    def since(task: Task) -> datetime | None:
        parent = task.parent
        if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
            return None
        return next((ready_since[str(c.id)] for c in parent.children if str(c.id) in ready_since), None)

    wf: BpmnWorkflow = run.wf
    registry = spec_registry()
    top, subs = diff_workflow(registry, wf, bundle[0], bundle[1])
    _move(top, wf, bundle[0], changed, since)
    for sp_id, sp in wf.subprocesses.items():
        _move(subs[sp_id], sp, bundle[1][sp.spec.name], changed, since)
    wf.subprocess_specs = bundle[1]
    run.rearm_business_timers()


def _move(diff: WorkflowDiff, wf: Any, spec: Any, changed: set[str], since: Callable[[Task], datetime | None]) -> None:
    wf.spec = spec
    for task in wf.tasks.values():
        if diff.alignment.get(task) is not None:
            task.task_spec = diff.alignment[task]
    for task in list(wf.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)):
        if task.id not in wf.tasks:
            continue  # removed with an ancestor's branch
        keep = dict(task.internal_data)
        rearm = task.state == TaskState.WAITING and (task.task_spec.bpmn_id in changed)
        _reset(task, since if rearm else None)
        if task.state == TaskState.WAITING and not rearm and "event_value" in keep:
            task.internal_data = keep  # an unchanged timer keeps its due time
        _arm_new_boundary_events(task, since)
    if wf.last_task is not None and wf.last_task not in wf.tasks:
        wf.last_task = None


def _reset(task: Task, since: Callable[[Task], datetime | None] | None, data: dict[str, Any] | None = None) -> None:
    """Reset the task's branch (re-predicting it from the new spec), keeping `data` (default: its own):
    the reset merges the parent's data over it, which would undo corrections made to live tasks."""
    keep = deepcopy(task.data if data is None else data)
    start = since(task) if since is not None else None
    if start is None:
        task.reset_branch(deepcopy(keep))  # the merge changes the dict it is given
    else:
        with clock_scope(lambda: start):
            task.reset_branch(deepcopy(keep))
    task.data = keep


def _arm_new_boundary_events(task: Task, since: Callable[[Task], datetime | None]) -> None:
    """A waiting human task whose element gained a boundary event in the new version gets it armed."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit) or task.state != TaskState.READY:
        return
    present = {c.task_spec for c in parent.children}
    for output in parent.task_spec.outputs:
        if output not in present:
            child = parent._add_child(output, TaskState.FUTURE)
            _reset(child, since, task.data)
