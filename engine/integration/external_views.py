"""External tasks as operators see them: the list, and the ones of one instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.permissions import Actor, require
from engine.db.models import ExternalTask, ProcessDefinition, ProcessInstance


@dataclass(frozen=True)
class ExternalTaskView:
    """An external task as operators see it."""

    id: str
    topic: str
    status: str
    instance_id: str
    element_id: str
    name: str
    process: str
    business_key: str | None
    worker_id: str | None
    locked: bool
    lock_expires_at: datetime | None
    retries: int | None
    available_at: datetime | None
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


def _view(
    row: ExternalTask, instance_id: str, business_key: str | None, process: str, now: datetime
) -> ExternalTaskView:
    locked = row.worker_id is not None and row.lock_expires_at is not None and row.lock_expires_at > now
    return ExternalTaskView(
        id=row.uuid,
        topic=row.topic,
        status=row.status,
        instance_id=instance_id,
        element_id=row.element_id,
        name=row.name,
        process=process,
        business_key=business_key,
        worker_id=row.worker_id if locked else None,
        locked=locked,
        lock_expires_at=row.lock_expires_at if locked else None,
        retries=row.retries,
        available_at=row.available_at,
        error_message=row.error_message,
        created_at=row.created_at,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
    )


def list_tasks(
    ctx: EngineContext,
    actor: Actor,
    topic: str | None = None,
    locked: bool | None = None,
    instance_id: str | None = None,
    status: str = "open",
    limit: int = 100,
) -> list[ExternalTaskView]:
    """External tasks, oldest first, filtered by topic, lock, instance and status; raises Forbidden."""
    require(actor, "external_task.read")
    now = ctx.clock.now()
    query = (
        select(ExternalTask, ProcessInstance.uuid, ProcessInstance.business_key, ProcessDefinition.key)
        .join(ProcessInstance, ProcessInstance.id == ExternalTask.instance_id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .order_by(ExternalTask.id)
        .limit(min(max(limit, 1), 1000))
    )
    if status != "all":
        query = query.where(ExternalTask.status == status)
    if topic:
        query = query.where(ExternalTask.topic == topic)
    if instance_id:
        query = query.where(ProcessInstance.uuid == instance_id)
    if locked is not None:
        held = (ExternalTask.worker_id.is_not(None)) & (ExternalTask.lock_expires_at > now)
        query = query.where(held if locked else ~held | ExternalTask.lock_expires_at.is_(None))
    with ctx.uow(write=False) as uow:
        return [_view(row, iid, key, process, now) for row, iid, key, process in uow.session.execute(query)]


def of_instance(session: Session, instance: ProcessInstance, now: datetime) -> list[ExternalTaskView]:
    """An instance's open external tasks (for the monitor's instance page)."""
    rows = session.scalars(
        select(ExternalTask)
        .where(ExternalTask.instance_id == instance.id, ExternalTask.status == "open")
        .order_by(ExternalTask.id)
    )
    return [_view(r, instance.uuid, instance.business_key, instance.definition.key, now) for r in rows]
