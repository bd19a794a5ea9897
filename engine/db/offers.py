"""Keeps `task_groups.offered` true exactly while a task is open and unassigned.

One before-flush hook sees every change of a task's status or assignee, whichever service
made it (claim, delegation, completion, cancellation, approvals), so the inbox's read model
cannot drift from the task rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, event, inspect, update
from sqlalchemy.orm import Session

from engine.db.models import HumanTask, TaskGroup

_OFFER = update(TaskGroup).where(TaskGroup.task_id == bindparam("task")).values(offered=bindparam("offered"))


def offered(task: HumanTask) -> bool:
    """Whether the task's groups are offered it: while it is open and nobody's."""
    return task.status == "open" and task.assignee is None


def set_offered(connection: Connection, task_id: int, value: bool) -> None:
    """Write `task_groups.offered` of one task (for writers that bypass the ORM flush)."""
    connection.execute(_OFFER, {"task": task_id, "offered": value})


@event.listens_for(Session, "before_flush")
def _sync_offers(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, HumanTask) or obj.id is None:
            continue
        state = inspect(obj)
        if state.attrs.status.history.has_changes() or state.attrs.assignee.history.has_changes():
            set_offered(session.connection(), obj.id, offered(obj))
