"""Keeping workflow state small: drop finished history the engine no longer needs.

SpiffWorkflow's task tree only grows: every pass through a loop adds tasks, so state size
and step time grow with history, and a back-edge loop stalls silently once the tree is
1,000 levels deep (its task iterator stops there). Our history lives in the task and event
tables, so before each save we re-root the tree a few levels above the deepest task that
is an ancestor of every unfinished task, dropping the finished tasks above it and the
finished branches beside them.

Everything under the new root is kept whole, finished tasks included: parallel joins find
earlier arrivals through finished join tasks in that subtree. Above the new root we keep a
compressed chain holding the nearest ancestor of each distinct task spec, because joins
also ask "is there an ancestor of spec X" (a gateway that is both a loop target and a
join walks up to the start event). That chain is bounded by the size of the process.
In memory every task holds its full data, and the serializer writes each task's data as a
difference from its (new) parent, so no variable is lost.
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


def compact(workflow: BpmnWorkflow) -> int:
    """Re-root the top workflow and each sub-workflow; returns how many tasks were dropped."""
    dropped = _compact_one(workflow, workflow)
    for sub in list(workflow.subprocesses.values()):
        dropped += _compact_one(sub, workflow)
    return dropped


def _compact_one(wf: BpmnWorkflow, top: BpmnWorkflow) -> int:
    unfinished = [t for t in wf.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    if not unfinished:
        return 0
    chain = _ancestors(unfinished[0])  # root ... task
    depth = len(chain) - 1
    for task in unfinished[1:]:
        mine = {t.id for t in _ancestors(task)}
        while chain[depth].id not in mine:
            depth -= 1
    above = _distinct_specs(chain[:depth])  # nearest first
    if len(above) == depth:
        return 0  # nothing to drop
    keep = _subtree_ids(chain[depth]) | {t.id for t in above}
    gone = [tid for tid in wf.tasks if tid not in keep]
    for tid in gone:
        del wf.tasks[tid]
        top.subprocesses.pop(tid, None)
    _relink([chain[depth], *above])
    wf.task_tree = above[-1] if above else chain[depth]
    if wf.last_task is not None and wf.last_task.id not in keep:
        wf.last_task = chain[depth]
    return len(gone)


def _distinct_specs(ancestors: list[Task]) -> list[Task]:
    """The nearest ancestor of each task spec, nearest first."""
    seen: set[str] = set()
    kept = []
    for task in reversed(ancestors):
        if task.task_spec.name not in seen:
            seen.add(task.task_spec.name)
            kept.append(task)
    return kept


def _relink(path: list[Task]) -> None:
    """Make `path` (a task, then its kept ancestors nearest first) a single parent chain."""
    for child, parent in zip(path, path[1:], strict=False):
        child._parent = parent.id
        parent._children = [child.id]
    path[-1]._parent = None


def _ancestors(task: Task) -> list[Task]:
    path = []
    node: Task | None = task
    while node is not None:
        path.append(node)
        node = node.parent
    path.reverse()
    return path


def _subtree_ids(root: Task) -> set[UUID]:
    ids: set[UUID] = set()
    stack = [root]
    while stack:
        task = stack.pop()
        ids.add(task.id)
        stack.extend(task.children)
    return ids
