"""Human tasks: the inbox query, one task, and completing a task with form data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from engine import audit
from engine.context import EngineContext
from engine.db.models import HumanTask, ProcessInstance, TaskGroup
from engine.errors import Conflict, Forbidden, FormDataInvalid, InvalidInput, NotFound
from engine.forms import form_fields, validate_submission
from engine.permissions import Actor, allowed
from engine.spiff.sandbox import SandboxedEnvironment
from engine.steps import load_instance, run_step
from engine.views import Page, TaskView

TASK_STATUSES = ("open", "completed", "cancelled")


def _load(session: Session, task_id: str) -> HumanTask:
    row = session.scalars(
        select(HumanTask).where(HumanTask.uuid == task_id)
        .options(joinedload(HumanTask.instance).joinedload(ProcessInstance.definition))
    ).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row


def in_my_groups(actor: Actor) -> ColumnElement[bool]:
    """SQL: the task is offered to one of the actor's groups."""
    if not actor.groups:
        return false()
    return exists().where(TaskGroup.task_id == HumanTask.id, TaskGroup.group_name.in_(sorted(actor.groups)))


def may_complete(actor: Actor, task: HumanTask) -> bool:
    """Members of the task's groups, its assignee and admins may complete it."""
    if allowed(actor, "task.complete_any"):
        return True
    if task.assignee is not None:
        return task.assignee == actor.username
    return bool(set(task.candidate_groups) & actor.groups)


def _may_see(actor: Actor, task: HumanTask) -> bool:
    return (allowed(actor, "task.read_all") or may_complete(actor, task)
            or task.completed_by == actor.username or task.instance.started_by == actor.username)


def get(ctx: EngineContext, actor: Actor, task_id: str) -> TaskView:
    """One task with its form schema; raises NotFound or Forbidden."""
    with ctx.uow(write=False) as uow:
        row = _load(uow.session, task_id)
        if not _may_see(actor, row):
            raise Forbidden(f"{actor.username} may not see task {task_id}")
        return TaskView.of(row, form=row.instance.definition.forms.get(row.form_key or ""))


def list_tasks(
    ctx: EngineContext, actor: Actor, instance: str | None = None, role: str | None = None,
    assignee: str | None = None, status: str | None = "open", page: int = 1, per_page: int = 50,
) -> Page:
    """Tasks the actor may see, oldest first; raises InvalidInput for an unknown status."""
    if status is not None and status not in TASK_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TASK_STATUSES)}", {"fields": {"status": "unknown"}})
    query = select(HumanTask).join(HumanTask.instance)
    if instance:
        query = query.where(ProcessInstance.uuid == instance)
    if role:
        query = query.where(HumanTask.role == role)
    if assignee:
        query = query.where(HumanTask.assignee == assignee)
    if status:
        query = query.where(HumanTask.status == status)
    if not allowed(actor, "task.read_all"):
        query = query.where(or_(
            HumanTask.assignee == actor.username, HumanTask.completed_by == actor.username,
            in_my_groups(actor), ProcessInstance.started_by == actor.username,
        ))
    with ctx.uow(write=False) as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.scalars(
            query.options(joinedload(HumanTask.instance).joinedload(ProcessInstance.definition))
            .order_by(HumanTask.created_at, HumanTask.id).offset((page - 1) * per_page).limit(per_page)
        ).all()
        return Page([TaskView.of(r) for r in rows], total, page, per_page)


def complete(ctx: EngineContext, actor: Actor, task_id: str, data: dict[str, Any] | None) -> TaskView:
    """Complete a task with form data; raises NotFound, Forbidden, FormDataInvalid, Conflict."""
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object", {"fields": {"data": "must be an object"}})
    with ctx.uow() as uow:
        session = uow.session
        row = _load(session, task_id)
        instance = load_instance(session, row.instance.uuid, lock=True)
        session.refresh(row)
        if not may_complete(actor, row):
            raise Forbidden(f"{actor.username} is not in {', '.join(row.candidate_groups) or 'the task group'}"
                            f" and may not complete task {task_id}")
        if row.status != "open":
            raise Conflict(f"task {task_id} is already {row.status}")
        if instance.status != "running":
            raise Conflict(f"process instance {instance.uuid} is {instance.status}")
        cleaned = _validated(ctx, row, data or {})
        now = ctx.clock.now()
        row.status, row.completed_at, row.completed_by, row.data = "completed", now, actor.username, cleaned
        audit.record(session, "task_completed", now, instance=instance, actor=actor.username, task_uuid=row.uuid,
                     element_id=row.element_id, data={"name": row.name, "role": row.role, "data": cleaned})
        run_step(ctx, session, instance, lambda run: run.complete(row.uuid, cleaned), actor.username,
                 completed_task=row)
        view = TaskView.of(row)
        uow.commit()
        return view


def _validated(ctx: EngineContext, row: HumanTask, data: dict[str, Any]) -> dict[str, Any]:
    bad = {k: "field names may not start with '_'" for k in data if not isinstance(k, str) or k.startswith("_")}
    if bad:
        raise FormDataInvalid(bad)
    schema = row.instance.definition.forms.get(row.form_key or "")
    if schema is None:
        return dict(data)
    cleaned, errors = validate_submission(schema, data, _form_evaluator(ctx, schema))
    if errors:
        raise FormDataInvalid(errors)
    return cleaned


def _form_evaluator(ctx: EngineContext, schema: dict[str, Any]) -> Callable[[str, dict[str, Any]], bool]:
    """Conditions see every field (None when not given); a failing condition requires nothing."""
    env = SandboxedEnvironment(time_limit=ctx.settings.script_time_limit)
    defaults = {f["key"]: None for f in form_fields(schema) if isinstance(f.get("key"), str)}

    def evaluate(expression: str, data: dict[str, Any]) -> bool:
        try:
            return bool(env.evaluate(expression, {**defaults, **data}))
        except Exception:  # noqa: BLE001 - the field it depends on carries its own error
            return False

    return evaluate
