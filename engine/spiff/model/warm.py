"""A workflow kept in memory after a step, made indistinguishable from one restored from its saved state.

Restoring a workflow (`specs.load_state`) rebuilds every task object; a process that keeps the
workflow it just saved (engine.runtime.warm) can skip that for the next step of the same instance.
The task tree, states and ids of the kept workflow are the ones that were saved, but its *values*
are not what a restore gives: a script may have left a tuple or a set where a restore gives a list,
a datetime that came from elsewhere, two names for one list, and SpiffWorkflow copies data deeply
between live tasks but restores a child's data as a shallow copy of its parent's. `settle` replaces
every value the state holds (task data and internal data, workflow data, correlations, pending
events) by what `load_state` would build from the same JSON, in the same order and the same way,
so the next step sees exactly what it would have seen after a restore. `fingerprint` writes down
all of that (types and shared objects included) so tests can compare a kept workflow with a restored one.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from engine.spiff.model.specs import dump_state, spec_registry


def settle(workflow: BpmnWorkflow, state: str) -> None:
    """Give `workflow`, whose saved state is `state`, the values a restore of `state` would give it.

    Raises KeyError if `state` names a task or sub-process the workflow does not have (it is not
    this workflow's state)."""
    dct = json.loads(state)
    registry = spec_registry()
    workflow.event_manager.tasks.clear()  # rebuilt in task order, as the restore does
    _settle_one(workflow, dct, workflow)
    for key, sub in dct["subprocesses"].items():
        _settle_one(workflow.subprocesses[UUID(key)], sub, workflow)
    workflow.bpmn_events = registry.restore(dct.get("bpmn_events", []))


def _settle_one(workflow: Any, dct: dict[str, Any], top: BpmnWorkflow) -> None:
    """One workflow's values (the top one or a sub-process), as SpiffWorkflow's TaskConverter and
    WorkflowConverter restore them: a task's data from its parent's (restored before it) plus the
    stored difference, or whole where it has no parent among the tasks restored before it."""
    registry = spec_registry()
    seen: set[UUID] = set()
    for key, stored in dct["tasks"].items():
        task = workflow.tasks[UUID(key)]
        task.internal_data = registry.restore(stored["internal_data"])
        if isinstance(task.task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            top.event_manager.add_task(task)
        parent = task._parent if task._parent in seen else None
        delta = stored.get("delta")
        if delta and parent is not None:
            data = DeepMerge.merge({}, workflow.tasks[parent].data)
            data.update(registry.restore(delta.get("updates", {})))
            for name in delta.get("deletions", {}):
                data.pop(name, None)
        else:
            data = registry.restore(stored["data"])
        task.data = data
        seen.add(task.id)
    workflow.correlations = dct.get("correlations", {})
    workflow.data = registry.restore(dct.get("data", {}))


def fingerprint(workflow: BpmnWorkflow) -> tuple[str, list[Any]]:
    """What a step can see of `workflow`: its serialized state, and every value it holds with its type
    and which values are one shared object (for comparing a kept workflow with a restored one)."""
    shared: dict[int, int] = {}
    values: list[Any] = []
    for flow in [workflow, *workflow.subprocesses.values()]:
        values.append(_typed(flow.data, shared))
        values.append(_typed(flow.correlations, shared))
        for task in flow.tasks.values():
            values.append((str(task.id), _typed(task.data, shared), _typed(task.internal_data, shared)))
    values.append(sorted(str(t.id) for t in workflow.event_manager.tasks.values()))
    values.append([(type(e.event_definition).__name__, _typed(e.payload, shared)) for e in workflow.bpmn_events])
    return dump_state(workflow), values


def _typed(value: Any, shared: dict[int, int]) -> Any:
    """`value` written out with the type of every part; a container seen before is written as a reference."""
    if isinstance(value, dict | list | set | tuple):
        if id(value) in shared:
            return ("same as", shared[id(value)])
        shared[id(value)] = len(shared)
        if isinstance(value, dict):
            return (type(value).__name__, [(_typed(k, shared), _typed(v, shared)) for k, v in value.items()])
        items = sorted(value, key=repr) if isinstance(value, set) else value
        return (type(value).__name__, [_typed(v, shared) for v in items])
    return (type(value).__name__, repr(value))
