"""SLAs on human tasks: due dates, the at-risk point, breaches and reminders.

A task's due date comes from its interrupting boundary timers (the earliest; the engine's
timers fire them), otherwise from its SLA property (`pmoflow:sla due=...`, see
engine.spiff.extensions.sla): an ISO 8601 duration or date, or an expression over the instance's
variables giving one, on calendar time or on a business calendar (engine.sla.calendars). A task
whose due date comes from the property gets an `sla_check` job at its due time (one per task,
by dedupe key) that writes `sla_breached` exactly once if the task is still open then.

Each task row gets its `at_risk_at` here (the `atRisk` share of the allowed time, on the task's
calendar when it has one); the label a task shows from it (on_track / at_risk / overdue / none)
is engine.sla.state's, the one place that decides it.

Boundary timers that fire are written by kind: a reminder writes `task_reminder` naming whom it
notifies (the assignee or, for a group task, every active member of its groups); an escalation
or a default outcome writes `sla_breached` (its outgoing flow does the rest); a `reassign` timer
(non-interrupting) writes `sla_breached` and `task_reassigned` (with the `timer`), giving the task
to the manager of its group (`groups.manager`, set on the admin group page). The bell entries
come from these events (engine.notify.bell).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.db.models import Group, HumanTask, Job, ProcessInstance, User
from engine.events import stream as audit
from engine.runtime import jobs
from engine.sla import calendars
from engine.sla.state import AT_RISK_SHARE, at_risk_time, is_overdue
from engine.spiff.expressions.sandbox import SandboxedEnvironment

CHECK_JOB = "sla_check"
TIMER_ACTOR = "timer"
TZ_KEY = "pmoflow_default_timezone"  # session.info: the default calendar's time zone for this step
log = logging.getLogger("pmoflow.sla")


# ---------------------------------------------------------------- due dates


def business_due(session: Session, default_time_zone: str) -> Callable[[str, datetime, str], datetime]:
    """For the engine's timers: (calendar, start, ISO duration) -> due; raises ValueError."""
    session.info[TZ_KEY] = default_time_zone
    return timers_due(calendars.resolver(session, default_time_zone))


def timers_due(find: calendars.Lookup) -> Callable[[str, datetime, str], datetime]:
    """Timers on business time given a lookup of calendars (a step's resolver, or the snapshot a dry run
    holds): (calendar, start, ISO duration) -> due; raises ValueError."""
    return lambda name, start, duration: find(name).add(start, duration)


def set_due(
    session: Session, instance: ProcessInstance, row: HumanTask, sla: dict[str, Any] | None, now: datetime
) -> None:
    """Give a new task row its due date from the SLA property (when no boundary timer gave one), its
    at-risk time, and for a property due date the job that records the breach."""
    share = float(sla.get("at_risk") or AT_RISK_SHARE) if sla else AT_RISK_SHARE
    if row.due_at is None and sla and sla.get("due"):
        try:
            row.due_at = property_due(session, sla, instance.variables, now)
        except Exception as err:  # noqa: BLE001 - a bad SLA must not stop the process; the trail says why
            log.warning("task %s: SLA due %r could not be evaluated: %s", row.uuid, sla.get("due"), err)
            audit.record(
                session,
                "sla_invalid",
                now,
                instance=instance,
                task_uuid=row.uuid,
                element_id=row.element_id,
                data={"due": sla.get("due"), "error": str(err)[:500]},
            )
        if row.due_at is not None:
            jobs.enqueue(
                session,
                CHECK_JOB,
                {"task": row.uuid},
                now,
                run_at=row.due_at,
                dedupe_key=f"{CHECK_JOB}:{row.uuid}",
                instance=instance,
            )
    row.at_risk_at = at_risk_time(row.created_at, row.due_at, share)
    if sla and sla.get("calendar") and row.due_at is not None:
        try:  # on business time, the share is of the working time allowed
            cal = calendars.resolver(session, session.info.get(TZ_KEY, "UTC"))(sla["calendar"])
            row.at_risk_at = cal.add(row.created_at, cal.working_between(row.created_at, row.due_at) * share)
        except ValueError as err:
            log.warning("task %s: at-risk time on calendar %r: %s", row.uuid, sla["calendar"], err)


def refresh(row: HumanTask, due_at: datetime | None) -> None:
    """A step reports the boundary-timer due date of an open task: keep the row (and its at-risk time) in step."""
    if due_at is None or due_at == row.due_at:
        return
    share = AT_RISK_SHARE
    if row.due_at is not None and row.at_risk_at is not None and row.due_at > row.created_at:
        share = (row.at_risk_at - row.created_at) / (row.due_at - row.created_at)
    row.due_at = due_at
    row.at_risk_at = at_risk_time(row.created_at, due_at, share)


def property_due(session: Session, sla: dict[str, Any], variables: dict[str, Any], now: datetime) -> datetime:
    """The due time an SLA property gives now; raises ValueError (or what the expression raises)."""
    return sla_due(sla, variables, now, calendars.resolver(session, session.info.get(TZ_KEY, "UTC")))


def sla_due(sla: dict[str, Any], variables: dict[str, Any], now: datetime, find: calendars.Lookup) -> datetime:
    """The due time an SLA property (`due`, `calendar`) gives now, its calendar found by `find`; raises
    ValueError (or what the expression raises)."""
    value = SandboxedEnvironment(time_limit=1.0).evaluate(sla["due"], dict(variables))
    return due_from(value, now, find(sla["calendar"]) if sla.get("calendar") else None)


def due_from(value: Any, now: datetime, calendar: calendars.WorkingCalendar | None = None) -> datetime:
    """A duration (ISO text or timedelta) from now, or a date/time, as an aware due time; raises ValueError."""
    zone = calendar.zone if calendar is not None else UTC
    if isinstance(value, timedelta):
        return calendar.add(now, value) if calendar is not None else now + value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):  # due by the end of that day
        return datetime.combine(value + timedelta(days=1), time(0), zone).astimezone(UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"SLA due {value!r} is neither a duration nor a date")
    text = value.strip()
    if text.upper().startswith("P"):
        if calendar is not None:
            return calendar.add(now, text)
        parts = calendars.parse_duration(text)
        rest = {k: v for k, v in parts.items() if k not in ("years", "months")}
        whole = relativedelta(years=int(parts.get("years") or 0), months=int(parts.get("months") or 0))
        return now + whole + timedelta(**rest)
    parsed = datetime.fromisoformat(text)
    if len(text) == 10:
        return due_from(parsed.date(), now, calendar)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


# ---------------------------------------------------------------- fired boundary timers


def timer_fired(
    session: Session, instance: ProcessInstance, timer: dict[str, Any], now: datetime, actor: str | None
) -> None:
    """Write what a fired boundary timer of a human task means: a reminder or an SLA breach."""
    kind = timer.get("kind") or ("escalation" if timer.get("interrupting") else "reminder")
    if kind != "reminder":
        audit.record(
            session,
            "sla_breached",
            now,
            instance=instance,
            actor=actor,
            task_uuid=timer["attached_task_id"],
            element_id=timer["attached_to"],
            data={"timer": timer["element_id"], "interrupting": timer["interrupting"], "kind": kind},
        )
    if kind not in ("reminder", "reassign"):
        return
    rows = session.scalars(
        select(HumanTask).where(
            or_(HumanTask.uuid == timer["attached_task_id"], HumanTask.approval_batch == timer["attached_task_id"]),
            HumanTask.status == "open",
        )
    ).all()
    if kind == "reassign":
        for row in rows:
            _to_manager(session, instance, row, timer, now, actor)
        return
    for row in rows:
        people = (
            [row.assignee]
            if row.assignee
            else sorted(set(_members(session, list(row.candidate_groups))) | set(row.candidate_users or []))
        )
        audit.record(
            session,
            "task_reminder",
            now,
            instance=instance,
            actor=actor,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={
                "timer": timer["element_id"],
                "name": row.name,
                "notified": people,
                "due_at": row.due_at.isoformat() if row.due_at else None,
            },
        )


def _to_manager(
    session: Session, instance: ProcessInstance, row: HumanTask, timer: dict[str, Any], now: datetime, actor: str | None
) -> None:
    """Escalate by reassignment: the task goes to the manager of its (first managed) group."""
    managers = session.scalars(
        select(Group.manager)
        .where(Group.name.in_(list(row.candidate_groups) or [""]), Group.manager.is_not(None))
        .order_by(Group.name)
    ).all()
    manager = next((m for m in managers if m), None)
    if manager is None or manager == row.assignee:
        audit.record(
            session,
            "escalation_skipped",
            now,
            instance=instance,
            actor=actor,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={
                "timer": timer["element_id"],
                "reason": "already with the manager" if manager else "none of the task's groups has a manager",
            },
        )
        return
    before = row.assignee
    row.assignee, row.owner, row.delegation_reason = manager, None, None
    reason = f"SLA breached ({timer['element_id']}): escalated to the group's manager"
    audit.record(
        session,
        "task_reassigned",
        now,
        instance=instance,
        actor=actor,
        task_uuid=row.uuid,
        element_id=row.element_id,
        data={"name": row.name, "from": before, "to": manager, "reason": reason, "timer": timer["element_id"]},
    )


def _members(session: Session, groups: list[str]) -> list[str]:
    if not groups:
        return []
    return list(
        session.scalars(
            select(User.username)
            .join(User.groups)
            .where(Group.name.in_(groups), User.active.is_(True))
            .distinct()
            .order_by(User.username)
        )
    )


# ---------------------------------------------------------------- the breach check job


def _check(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any] | None:
    return {"task": job.payload.get("task")}


def _record_breach(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    """In the job's finishing transaction (once, under its lease): the breach, if the task is still open."""
    now = ctx.clock.now()
    row = session.scalars(select(HumanTask).where(HumanTask.uuid == job.payload.get("task"))).first()
    if row is None or row.status != "open" or row.due_at is None or not is_overdue(row.due_at, now):
        return
    instance = session.get(ProcessInstance, row.instance_id)
    audit.record(
        session,
        "sla_breached",
        now,
        instance=instance,
        actor=TIMER_ACTOR,
        task_uuid=row.uuid,
        element_id=row.element_id,
        data={"kind": "due_date", "due_at": row.due_at.isoformat(), "name": row.name},
    )


JOBS = {CHECK_JOB: jobs.JobHandler(run=_check, done=_record_breach)}  # registered by engine.bootstrap
