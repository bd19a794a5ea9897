"""Camunda's multi-instance variables for expressions evaluated on a multi-instance child.

A completion condition such as `${nrOfCompletedInstances >= 2}` or
`=nrOfCompletedInstances / nrOfInstances >= 0.5` reads `nrOfInstances`, `nrOfActiveInstances`,
`nrOfCompletedInstances` and `loopCounter` (0-based). SpiffWorkflow evaluates the condition on the
last completed child; the sandbox's script engine adds these values (task data of the same name
wins) whenever the task it evaluates on is an instance of a multi-instance activity.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


def counters(task: Task) -> dict[str, Any] | None:
    """The multi-instance variables for an instance task, or None if `task` is not one."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, MultiInstanceTask):
        return None
    spec = parent.task_spec
    instances = list(spec._instances(parent))
    if task not in instances:
        return None
    total = parent.internal_data.get("cardinality")
    if total is None:
        total = len(instances) + len(parent.internal_data.get("remaining", []))
    return {
        "nrOfInstances": total,
        "nrOfActiveInstances": sum(1 for c in instances if not c.has_state(TaskState.FINISHED_MASK)),
        "nrOfCompletedInstances": len(parent.internal_data.get("merged", [])),
        "loopCounter": instances.index(task),
    }
