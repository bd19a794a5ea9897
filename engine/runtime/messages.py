"""Messages from outside: correlate a named message to a waiting instance."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.core.records import InstanceView
from engine.db.models import ProcessInstance
from engine.db.statements import load_instance, open_rows
from engine.events import stream as audit
from engine.runtime.instances import check_variables
from engine.runtime.steps import run_step
from engine.spiff.runtime.run import Run


def correlate(
    ctx: EngineContext,
    actor: Actor,
    message: str,
    instance_id: str | None = None,
    business_key: str | None = None,
    variables: dict[str, Any] | None = None,
) -> InstanceView:
    """Deliver `message` to the instance that waits for it; raises NotFound if none waits."""
    require(actor, "message.send")
    if not message:
        raise InvalidInput("message name is required", {"fields": {"message": "required"}})
    if not instance_id and not business_key:
        raise InvalidInput("give instance_id or business_key", {"fields": {"instance_id": "required"}})
    variables = check_variables(variables, ctx.limits)
    with ctx.uow() as uow:
        session = uow.session
        for candidate in _candidates(session, instance_id, business_key):
            instance = load_instance(session, candidate, lock=True)
            if instance.status != "running":
                continue
            try:
                run_step(ctx, session, instance, lambda run: _deliver(run, message, variables), actor.username)
            except _NotWaiting:
                continue
            audit.record(
                session,
                "message_received",
                ctx.clock.now(),
                instance=instance,
                actor=actor.username,
                data={"message": message, "variables": variables},
            )
            view = InstanceView.of(instance, open_rows(session, instance))
            uow.commit()
            return view
    target = f"instance {instance_id}" if instance_id else f"business key {business_key!r}"
    raise NotFound(f"no running process instance with {target} is waiting for message {message!r}")


class _NotWaiting(Exception):
    """Raised before anything is saved when the instance does not wait for the message."""


def _deliver(run: Run, message: str, variables: dict[str, Any]) -> None:
    if not run.correlate(message, variables):
        raise _NotWaiting(message)


def _candidates(session: Session, instance_id: str | None, business_key: str | None) -> list[str]:
    query = select(ProcessInstance.uuid).where(ProcessInstance.status == "running")
    if instance_id:
        query = query.where(ProcessInstance.uuid == instance_id)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    return list(session.scalars(query.order_by(ProcessInstance.id)))
