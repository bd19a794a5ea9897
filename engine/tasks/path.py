"""The path of an instance so far (started, decided, completed, delegated, migrated, ...), as the task
page, the requester's page and the monitor show it: one line per event of the trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import Event


@dataclass(frozen=True)
class Step:
    """One line of an instance's path: something that happened, by whom, with what."""

    at: datetime
    kind: str
    name: str
    actor: str | None
    decision: str | None = None
    comment: str | None = None
    to: str | None = None  # delegated / reassigned to
    on_behalf_of: str | None = None  # completed by a delegate for this owner


PATH_EVENTS = (
    "instance_started",
    "task_completed",
    "decision_evaluated",
    "sla_breached",
    "task_reminder",
    "task_cancelled",
    "instance_completed",
    "instance_cancelled",
    "incident_raised",
    "message_received",
    "signal_received",
    "task_delegated",
    "task_reassigned",
    "instance_migrated",
)


def step_of(event: Event) -> Step:
    """One event of the trail as a line of the path."""
    data = event.data or {}
    submitted = data.get("data") or {}
    decision = next((str(v) for k, v in submitted.items() if k.endswith("decision")), None)
    comment = next((str(v) for k, v in submitted.items() if k.endswith("comment") and v), None)
    name = data.get("name") or data.get("decision_table") or data.get("process") or event.type.replace("_", " ")
    if event.type in ("task_delegated", "task_reassigned"):
        comment = data.get("reason")
    if event.type == "instance_migrated":
        name, comment = f"version {data.get('from_version')} to version {data.get('to_version')}", data.get("reason")
    return Step(
        event.occurred_at,
        event.type,
        str(name),
        event.actor,
        decision,
        comment,
        data.get("to"),
        data.get("on_behalf_of"),
    )


def path_of(session: Session, instance_pk: int) -> list[Step]:
    """The path of an instance so far, as the task and request pages show it."""
    events = session.scalars(
        select(Event).where(Event.instance_id == instance_pk, Event.type.in_(PATH_EVENTS)).order_by(Event.id)
    ).all()
    return [step_of(e) for e in events]
