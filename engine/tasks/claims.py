"""Claiming a task offered to several people, and giving it back."""

from __future__ import annotations

from engine.core.context import EngineContext
from engine.core.errors import Conflict, Forbidden
from engine.core.permissions import Actor, allowed, require
from engine.core.records import TaskView
from engine.db.models import (
    HumanTask,
)
from engine.db.statements import load_instance
from engine.events import stream as audit
from engine.tasks.approvals import barred, has_duties, meta_of
from engine.tasks.candidates import is_candidate
from engine.tasks.inbox import load_task


def claim(ctx: EngineContext, actor: Actor, task_id: str) -> TaskView:
    """Take a group task; raises Forbidden, Conflict (someone else has it), NotFound."""
    return _set_assignee(ctx, actor, task_id, actor.username, "task_claimed")


def unclaim(ctx: EngineContext, actor: Actor, task_id: str) -> TaskView:
    """Give a claimed task back to its groups; raises Forbidden, Conflict, NotFound."""
    return _set_assignee(ctx, actor, task_id, None, "task_unclaimed")


def _set_assignee(ctx: EngineContext, actor: Actor, task_id: str, assignee: str | None, event: str) -> TaskView:
    require(actor, "task.complete")
    with ctx.uow() as uow:
        row = load_task(uow.session, task_id)
        load_instance(uow.session, row.instance.uuid, lock=True)
        uow.session.refresh(row)
        if row.status != "open":
            raise Conflict(f"task {task_id} is already {row.status}")
        _check_assignment(actor, row, assignee)
        meta = meta_of(row.instance, row)
        if assignee is not None and has_duties(meta):
            reason = barred(uow.session, meta, row.instance, row, actor.username)
            if reason is not None:
                raise Forbidden(f"{actor.username} {reason} and may not take this task (separation of duties)")
        row.assignee, row.owner, row.delegation_reason = assignee, None, None  # claiming ends a delegation
        audit.record(
            uow.session,
            event,
            ctx.clock.now(),
            instance=row.instance,
            actor=actor.username,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={"name": row.name},
        )
        view = TaskView.of(row)
        uow.commit()
        return view


def _check_assignment(actor: Actor, row: HumanTask, assignee: str | None) -> None:
    """Candidates claim unassigned tasks; the assignee (or an admin) gives them back."""
    admin = allowed(actor, "task.complete_any")
    if not (admin or is_candidate(actor, row) or (assignee is None and row.assignee == actor.username)):
        raise Forbidden(f"{actor.username} is not a candidate of task {row.uuid}")
    if assignee is not None and row.assignee not in (None, actor.username):
        raise Conflict(f"task {row.uuid} is assigned to {row.assignee}")
    if assignee is None and row.assignee is None:
        raise Conflict(f"task {row.uuid} is not assigned to anyone")
    if assignee is None and row.assignee != actor.username and not admin:
        raise Forbidden(f"only {row.assignee} can give task {row.uuid} back")
