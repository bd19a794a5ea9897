"""The event stream: every change of state is an event written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.db.models import Event, ProcessInstance


def record(
    session: Session,
    type_: str,
    at: datetime,
    *,
    instance: ProcessInstance | None = None,
    actor: str | None = None,
    task_uuid: str | None = None,
    element_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Add an event to the current transaction."""
    event = Event(
        type=type_, occurred_at=at, instance_id=instance.id if instance is not None else None,
        actor=actor, task_uuid=task_uuid, element_id=element_id, data=data or {},
    )
    session.add(event)
    return event
