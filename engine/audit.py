"""The event stream: every change of state is an event written in the same transaction.

Outgoing messages (email, chat, webhooks) are derived from events by subscribers: modules
listed in `SUBSCRIBER_MODULES` register a function with `@subscribe`; `record` calls each
with the new event, and they enqueue jobs (`engine.jobs.enqueue`) in the same transaction,
so nothing is sent for a step that rolled back and nothing committed is lost (the outbox).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.db.models import Event, ProcessInstance, new_uuid

Subscriber = Callable[[Session, Event, "ProcessInstance | None"], None]

# Modules whose import registers event subscribers.
SUBSCRIBER_MODULES: tuple[str, ...] = ()
_subscribers: list[Subscriber] = []
_loaded = False


def subscribe(fn: Subscriber) -> Subscriber:
    """Register `fn(session, event, instance)`, called for every event recorded from now on."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def _load_subscribers() -> None:
    global _loaded
    if not _loaded:
        for module in SUBSCRIBER_MODULES:
            importlib.import_module(module)
        _loaded = True


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
    """Add an event to the current transaction and hand it to the subscribers."""
    event = Event(
        uuid=new_uuid(), type=type_, occurred_at=at, instance_id=instance.id if instance is not None else None,
        actor=actor, task_uuid=task_uuid, element_id=element_id, data=data or {},
    )
    session.add(event)
    _load_subscribers()
    for subscriber in _subscribers:
        subscriber(session, event, instance)
    return event
