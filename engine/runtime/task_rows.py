"""Human-task rows follow the workflow after every step: new ready tasks get a row (offered,
prioritised), the rows of cancelled branches are cancelled."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import HumanTask, ProcessInstance, new_uuid
from engine.db.statements import OpenRows, insert_loaded, open_rows
from engine.events import stream as audit
from engine.sla import deadlines as sla
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.runtime.work import OpenTask
from engine.tasks.approvals import NoApprovers, resolve_approvers
from engine.tasks.candidates import Offer, offer_for
from engine.tasks.substitutes import effective_assignee

log = logging.getLogger("pmoflow.steps")


def why_gone(instance: ProcessInstance) -> str:
    """Why an open task row is cancelled: its instance was cancelled, or its branch ended."""
    if instance.status == "cancelled":
        return "instance cancelled"
    return "branch ended (boundary event, gateway or cancellation)"


def sync_tasks(
    session: Session,
    instance: ProcessInstance,
    open_tasks: list[OpenTask],
    now: datetime,
    completed: HumanTask | None = None,
    time_limit: float = 3.0,
    known: OpenRows | None = None,
    default_group: str = "PMO Office",
) -> list[HumanTask]:
    """Make the instance's open task rows match the workflow's ready human tasks; returns the open rows.

    A plain user task is one row with the workflow task's id; an approval-pattern task is a
    batch of personal rows, one per approver, keyed by `approval_batch`. `known` replaces the
    query for the current open rows and is brought up to date. Whom a new task is offered to
    is engine.tasks.candidates' rule (`default_group`: the deployment's, for tasks that name nobody).
    """
    current = [r for r in known.rows if r.status == "open"] if known is not None else open_rows(session, instance)
    created: list[HumanTask] = []
    rows: dict[str, list[HumanTask]] = {}
    for row in current:
        rows.setdefault(row.approval_batch or row.uuid, []).append(row)
    wanted = {t.id: t for t in open_tasks}
    for key, group in rows.items():
        for row in group:
            if key in wanted:
                sla.refresh(row, wanted[key].due_at)
            elif completed is None or row.uuid != completed.uuid:
                _cancel_row(session, instance, row, now, why_gone(instance))
    meta = {(t["process"], t["element_id"]): t for t in instance.definition.user_tasks}
    for uuid, task in wanted.items():
        if uuid in rows:
            continue
        info = meta.get((task.process, task.element_id), {})
        if info.get("approval"):
            created += _create_batch(session, instance, task, info, now, time_limit)
        else:
            offer = offer_for(
                session,
                info,
                info.get("lane") or task.lane,
                instance.definition.lane_map,
                instance.variables,
                default_group=default_group,
                started_by=instance.started_by,
                today=now.date(),
                time_limit=min(time_limit, 1.0),
            )
            created.append(_create_row(session, instance, task, info, now, uuid=uuid, offer=offer))
    now_open = [r for r in current if r.status == "open"] + created
    if known is not None:
        known.rows = now_open
    return now_open


def _cancel_row(session: Session, instance: ProcessInstance, row: HumanTask, now: datetime, reason: str) -> None:
    row.status = "cancelled"
    row.completed_at = now
    audit.record(
        session,
        "task_cancelled",
        now,
        instance=instance,
        task_uuid=row.uuid,
        element_id=row.element_id,
        data={"name": row.name, "reason": reason},
    )


def _create_row(
    session: Session,
    instance: ProcessInstance,
    task: OpenTask,
    info: dict[str, Any],
    now: datetime,
    uuid: str,
    offer: Offer,
    batch: str | None = None,
) -> HumanTask:
    role = info.get("lane") or task.lane
    groups, assignee = offer.groups, offer.assignee
    row = HumanTask(
        uuid=uuid,
        instance_id=instance.id,
        element_id=task.element_id,
        name=task.name,
        role=role,
        candidate_groups=groups,
        candidate_users=offer.users,
        group_source=offer.source,
        form_key=info.get("form"),
        status="open",
        created_at=now,
        due_at=task.due_at,
        assignee=assignee,
        approval_batch=batch,
        priority=task_priority(info.get("priority"), instance.variables),
    )
    with session.no_autoflush:  # before the INSERT: no second UPDATE of the row for its at-risk time
        sla.set_due(session, instance, row, info.get("sla"), now)  # the SLA property, the at-risk time
    insert_loaded(session, row)  # its task_groups rows are written by a trigger
    audit.record(
        session,
        "task_created",
        now,
        instance=instance,
        task_uuid=uuid,
        element_id=task.element_id,
        data={
            "name": task.name,
            "role": role,
            "candidate_groups": groups,
            "assignee": assignee,
            "approval_batch": batch,
            "due_at": row.due_at.isoformat() if row.due_at else None,
            **({"candidate_users": offer.users} if offer.users else {}),
            **({"group_source": offer.source} if offer.source else {}),
            **({"warnings": offer.warnings} if offer.warnings else {}),
            **({"substitute_for": offer.meant_for} if offer.meant_for else {}),
        },
    )
    return row


DEFAULT_PRIORITY = 50


def task_priority(expression: str | None, variables: dict[str, Any]) -> int:
    """A task's priority from 0 to 100 (50 without a setting, or when the expression fails)."""
    if not expression:
        return DEFAULT_PRIORITY
    try:
        value = SandboxedEnvironment(time_limit=1.0).evaluate(expression, dict(variables))
        return max(0, min(100, int(value)))
    except Exception:  # noqa: BLE001 - a bad priority must not stop the process; it gets the default
        log.warning("priority %r could not be evaluated; using %s", expression, DEFAULT_PRIORITY)
        return DEFAULT_PRIORITY


def _create_batch(
    session: Session,
    instance: ProcessInstance,
    task: OpenTask,
    info: dict[str, Any],
    now: datetime,
    time_limit: float,
) -> list[HumanTask]:
    """One personal row per approver (returned); an empty or failing approver list puts the instance in error."""
    if session.scalar(select(HumanTask.id).where(HumanTask.approval_batch == task.id).limit(1)) is not None:
        return []  # already fanned out (and decided): nothing new
    try:
        approvers = resolve_approvers(session, info["approval"], instance.variables, time_limit)
    except NoApprovers as err:
        instance.status = "error"
        instance.error = {"element_id": task.element_id, "task_id": task.id, "message": str(err), "kind": "NoApprovers"}
        audit.record(
            session,
            "incident_raised",
            now,
            instance=instance,
            task_uuid=task.id,
            element_id=task.element_id,
            data=instance.error,
        )
        return []
    rows = []
    for approver in approvers:
        assignee = effective_assignee(session, approver, now.date())  # out of office: the substitute
        offer = Offer(
            list(info.get("candidate_groups") or []),
            assignee=assignee,
            meant_for=approver if assignee != approver else None,
        )
        rows.append(_create_row(session, instance, task, info, now, uuid=new_uuid(), offer=offer, batch=task.id))
    return rows
