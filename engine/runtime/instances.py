"""Process instances: start (idempotently), read, list, cancel, retry, audit trail."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from engine.core import outcomes
from engine.core.context import EngineContext, check_bounds
from engine.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.core.permissions import Actor, allowed, require
from engine.core.records import EventView, InstanceView, Page
from engine.db.models import Event, HumanTask, IdempotencyKey, ProcessDefinition, ProcessInstance, new_uuid
from engine.db.statements import OpenRows, load_instance, open_rows
from engine.definitions.deployments import find_definition
from engine.events import stream as audit
from engine.runtime.steps import ensure_running, run_step
from engine.sla import state as sla_state
from engine.spiff.runtime.budget import StepLimits
from engine.spiff.runtime.run import Run
from engine.tasks.candidates import in_my_groups

# a name, or several words separated by single spaces as FEEL and Trisotech models write them ("Service Level")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?: [A-Za-z0-9_]+)*$")
STATUSES = ("running", "completed", "cancelled", "error")


def check_variables(variables: object, limits: StepLimits, field: str = "variables") -> dict[str, Any]:
    """Variables are a JSON object whose names are identifiers not starting with '_' (or such words separated by
    single spaces), nested and sized within `limits` (so that every state saved can be loaded again); raises
    InvalidInput naming the variable."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidInput(f"{field} must be a JSON object", {"fields": {field: "must be an object"}})
    bad = {
        f"{field}.{k}": "names must start with a letter and use only letters, digits, _ and single spaces"
        for k in variables
        if not isinstance(k, str) or not NAME.match(k)
    }
    if bad:
        raise InvalidInput(f"invalid variable names: {', '.join(sorted(bad))}", {"fields": bad})
    check_bounds(variables, limits, field)
    return dict(variables)


def start(
    ctx: EngineContext,
    actor: Actor,
    process: str,
    version: int | None = None,
    business_key: str | None = None,
    variables: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> InstanceView:
    """Start an instance and run it to its first wait; raises NotFound, Forbidden, InvalidInput, Conflict."""
    require(actor, "instance.start", process)
    variables = check_variables(variables, ctx.limits)
    request_hash = _request_hash(process, version, business_key, variables)
    if idempotency_key is not None:
        replay = _replay(ctx, actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
    try:
        return _start(ctx, actor, process, version, business_key, variables, idempotency_key, request_hash)
    except IntegrityError:
        if idempotency_key is None:
            raise
        replay = _replay(ctx, actor, idempotency_key, request_hash)
        if replay is None:
            raise
        return replay


def start_by_event(
    ctx: EngineContext,
    actor: Actor,
    process: str,
    variables: dict[str, Any],
    event: Callable[[Run], Any],
) -> InstanceView:
    """Start the latest version of `process` and, in the same step, hand its start event what started it
    (`event`, e.g. a signal); raises NotFound, Forbidden."""
    require(actor, "instance.start", process)
    return _start(ctx, actor, process, None, None, variables, None, None, event)


def _start(
    ctx: EngineContext,
    actor: Actor,
    process: str,
    version: int | None,
    business_key: str | None,
    variables: dict[str, Any],
    idem_key: str | None,
    request_hash: str | None,
    event: Callable[[Run], Any] | None = None,
) -> InstanceView:
    with ctx.uow() as uow:
        session = uow.session
        definition = find_definition(session, ctx.definitions, process, version)
        now = ctx.clock.now()
        instance = ProcessInstance(  # inserted by run_step with its state (steps.save_run), not by a flush
            uuid=new_uuid(),
            definition_id=definition.id,
            definition=definition,
            business_key=business_key,
            status="running",
            state="",
            variables=variables,
            revision=0,
            started_by=actor.username,
            created_at=now,
            updated_at=now,
        )
        audit.record(
            session,
            "instance_started",
            now,
            instance=instance,
            actor=actor.username,
            data={
                "process": definition.key,
                "version": definition.version,
                "business_key": business_key,
                "variables": variables,
            },
        )
        known = OpenRows([])  # a new instance has no task rows yet
        run_step(ctx, session, instance, event or (lambda run: run.begin()), actor.username, new=True, known=known)
        if idem_key is not None:
            session.add(
                IdempotencyKey(
                    actor=actor.username,
                    key=idem_key,
                    request_hash=request_hash,
                    instance_id=instance.id,
                    created_at=now,
                )
            )
        after = ctx.clock.now()
        labels = {t.uuid: sla_state.of_task(t, after) for t in known.rows}
        view = InstanceView.of(instance, known.rows, sla_states=labels)
        uow.commit()
        return view


def _request_hash(process: str, version: int | None, business_key: str | None, variables: dict[str, Any]) -> str:
    body = json.dumps([process, version, business_key, variables], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(ctx: EngineContext, actor: Actor, key: str, request_hash: str) -> InstanceView | None:
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(
            select(IdempotencyKey).where(IdempotencyKey.actor == actor.username, IdempotencyKey.key == key)
        ).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Conflict("this Idempotency-Key was already used with a different request", {"idempotency_key": key})
        instance = uow.session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        return InstanceView.of(instance, open_rows(uow.session, instance), replayed=True)


def get(ctx: EngineContext, actor: Actor, instance_id: str) -> InstanceView:
    """One instance with its open tasks; raises NotFound or Forbidden."""
    with ctx.uow(write=False) as uow:
        instance = load_instance(uow.session, instance_id)
        check_can_see(uow.session, actor, instance)
        rows, now = open_rows(uow.session, instance), ctx.clock.now()
        return InstanceView.of(instance, rows, sla_states={t.uuid: sla_state.of_task(t, now) for t in rows})


def check_can_see(session: Session, actor: Actor, instance: ProcessInstance) -> None:
    """Raise Forbidden unless the actor may see this instance."""
    require(actor, "instance.read_own")
    if allowed(actor, "instance.read_all"):
        return
    if instance.started_by == actor.username:
        return
    involved = session.scalar(
        select(
            exists().where(
                HumanTask.instance_id == instance.id,
                or_(
                    HumanTask.assignee == actor.username,
                    HumanTask.completed_by == actor.username,
                    HumanTask.owner == actor.username,
                    in_my_groups(actor),
                ),
            )
        )
    )
    if not involved:
        raise Forbidden(f"{actor.username} may not see process instance {instance.uuid}")


def list_instances(
    ctx: EngineContext,
    actor: Actor,
    process: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    page: int = 1,
    per_page: int = 50,
    outcome: str | None = None,
) -> Page:
    """Instances, newest first, filtered and paginated; raises InvalidInput for an unknown status or outcome,
    Forbidden."""
    require(actor, "instance.read_own")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", {"fields": {"status": "unknown"}})
    if outcome is not None and outcome not in outcomes.OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(outcomes.OUTCOMES)}", {"fields": {"outcome": "unknown"}})
    query = select(ProcessInstance).join(ProcessInstance.definition)
    if process:
        query = query.where(ProcessDefinition.key == process)
    if status:
        query = query.where(ProcessInstance.status == status)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    if outcome:
        query = query.where(ProcessInstance.outcome == outcome)
    if not allowed(actor, "instance.read_all"):
        mine = exists().where(
            HumanTask.instance_id == ProcessInstance.id,
            or_(HumanTask.assignee == actor.username, HumanTask.completed_by == actor.username, in_my_groups(actor)),
        )
        query = query.where(or_(ProcessInstance.started_by == actor.username, mine))
    with ctx.uow(write=False) as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.scalars(
            query.options(joinedload(ProcessInstance.definition))
            .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return Page([InstanceView.of(r) for r in rows], total, page, per_page)


def cancel(ctx: EngineContext, actor: Actor, instance_id: str, reason: str) -> InstanceView:
    """Cancel a running (or failed) instance with a reason; raises NotFound, Forbidden, Conflict, InvalidInput."""
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required to cancel", {"fields": {"reason": "required"}})
    require(actor, "instance.cancel_own")  # whoever may cancel any instance may cancel their own
    with ctx.uow() as uow:
        session = uow.session
        instance = load_instance(session, instance_id, lock=True)
        if not (
            allowed(actor, "instance.cancel_any")
            or (allowed(actor, "instance.cancel_own") and instance.started_by == actor.username)
        ):
            raise Forbidden(f"{actor.username} may not cancel process instance {instance_id}")
        if instance.status not in ("running", "error"):
            raise Conflict(f"process instance {instance_id} is already {instance.status}")
        run_step(ctx, session, instance, lambda run: run.cancel(), actor.username)
        instance.status = "cancelled"
        instance.outcome = outcomes.CANCELLED
        instance.cancel_reason = reason.strip()
        instance.next_due_at = None
        instance.ended_at = instance.ended_at or ctx.clock.now()
        audit.record(
            session,
            "instance_cancelled",
            ctx.clock.now(),
            instance=instance,
            actor=actor.username,
            data={"reason": instance.cancel_reason, "outcome": instance.outcome},
        )
        view = InstanceView.of(instance, open_rows(session, instance))
        uow.commit()
        return view


def retry(ctx: EngineContext, actor: Actor, instance_id: str, variables: dict[str, Any] | None) -> InstanceView:
    """Re-run the failed task of an instance in error, after merging fixed variables into its data."""
    require(actor, "instance.retry")
    variables = check_variables(variables, ctx.limits)
    with ctx.uow() as uow:
        session = uow.session
        instance = load_instance(session, instance_id, lock=True)
        if instance.status != "error":
            raise Conflict(f"process instance {instance_id} is {instance.status}, not in error")
        previous = instance.error
        instance.error = None
        run_step(ctx, session, instance, lambda run: run.retry(variables), actor.username)
        audit.record(
            session,
            "incident_retried",
            ctx.clock.now(),
            instance=instance,
            actor=actor.username,
            data={"previous_error": previous, "variables": variables, "status": instance.status},
        )
        view = InstanceView.of(instance, open_rows(session, instance))
        uow.commit()
        return view


def audit_trail(ctx: EngineContext, actor: Actor, instance_id: str) -> list[EventView]:
    """Every event of an instance in order; raises NotFound or Forbidden."""
    require(actor, "audit.read")
    with ctx.uow(write=False) as uow:
        instance = load_instance(uow.session, instance_id)
        rows = uow.session.scalars(select(Event).where(Event.instance_id == instance.id).order_by(Event.id)).all()
        return [EventView.of(r) for r in rows]


__all__ = [
    "start",
    "start_by_event",
    "get",
    "list_instances",
    "cancel",
    "retry",
    "audit_trail",
    "check_variables",
    "ensure_running",
    "NotFound",
]
