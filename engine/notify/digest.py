"""The daily digest: once a day, at a time of day each person chose in their time zone, what waits for
them, what of it is overdue and what they delegated; nothing on a day with nothing.

Driven by the worker's job loop (engine/runtime/jobs.py): each person who turned the digest on has one
pending `notify.digest` job, due at their next local digest time, whose dedupe key names the person and
the local day (`notify.digest:<user>:<YYYY-MM-DD>`). The unique key makes it once per person per day
however many workers run (they claim jobs with FOR UPDATE SKIP LOCKED on PostgreSQL); the job's `done`
(run exactly once, under the job's lease) enqueues one message job per chosen channel (email, Slack,
Teams: the same `notify.*` jobs as every notification, rendered by engine/notify/summary.py) and the
next day's digest job. Saving one's settings (the `notification_settings_changed` event) re-plans it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.db.models import Event, HumanTask, Job, NotificationSetting, ProcessInstance, User
from engine.db.uow import settings_of
from engine.notify.bell import describe
from engine.runtime import jobs
from engine.sla.state import overdue_condition
from engine.tasks.inbox import InboxFilter, inbox_query

KIND = "notify.digest"
SEND = {"email": "notify.email", "slack": "notify.slack", "teams": "notify.teams"}  # engine/notify/delivery.py
LIST_LIMIT = 20  # tasks per section; the rest is counted
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class Plan:
    """When a person's next digest is due: the local day it is for and the moment, in UTC."""

    day: date
    at: datetime


def zone_of(name: str | None, default: str) -> ZoneInfo:
    """The zone a digest is read in: the person's, else the server's default, else UTC (never raises)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")


def next_plan(now: datetime, at: str, zone: ZoneInfo, after: date | None = None) -> Plan:
    """The first local `at` (HH:MM) in `zone` later than `now` and on a day later than `after` (if given)."""
    hour, minute = (int(part) for part in at.split(":"))
    local = now.astimezone(zone)
    day = local.date()
    while True:
        moment = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if moment > local and (after is None or day > after):
            return Plan(day, moment.astimezone(UTC))
        day += timedelta(days=1)


def _literal(username: str) -> str:
    """The key prefix of a person's digests as a LIKE pattern that matches it literally (user names may hold _ or %)."""
    prefix = f"{KIND}:{username}:"
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key(username: str, day: date) -> str:
    return f"{KIND}:{username}:{day.isoformat()}"


def schedule(
    session: Session, username: str, row: NotificationSetting | None, now: datetime, default_zone: str
) -> Job | None:
    """Plan the person's next digest (replacing a pending one); None when it is off. In the caller's transaction."""
    session.execute(
        delete(Job)
        .where(Job.kind == KIND, Job.status == "pending", Job.dedupe_key.like(f"{_literal(username)}%", escape="\\"))
        .execution_options(synchronize_session=False)
    )
    if row is None or not row.digest_enabled or not row.digest_channels:
        return None
    zone = zone_of(row.digest_zone, default_zone)
    plan = next_plan(now, row.digest_time or "08:00", zone)
    while session.scalar(select(Job.id).where(Job.dedupe_key == _key(username, plan.day))) is not None:
        plan = next_plan(now, row.digest_time or "08:00", zone, after=plan.day)  # that day's is done or under way
    payload = {"username": username, "day": plan.day.isoformat()}
    return jobs.enqueue(
        session, KIND, payload, now, run_at=plan.at, dedupe_key=_key(username, plan.day), max_attempts=MAX_ATTEMPTS
    )


def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """Subscriber: a person saved their notification settings, so their digest is planned again."""
    if event.type != "notification_settings_changed" or not event.actor:
        return
    row = session.scalars(
        select(NotificationSetting)
        .join(User, User.id == NotificationSetting.user_id)
        .where(User.username == event.actor)
    ).first()
    settings = settings_of(session)
    schedule(session, event.actor, row, event.occurred_at, settings.default_timezone if settings else "UTC")


def _item(task: HumanTask, zone: ZoneInfo, with_assignee: bool = False) -> dict[str, Any]:
    return {
        "task_name": task.name,
        "request": describe(task.instance),
        "link": f"/tasks/{task.uuid}",
        "due_at": task.due_at.astimezone(zone).isoformat() if task.due_at else None,
        "assignee": (task.assignee or ", ".join(task.candidate_groups or [])) if with_assignee else None,
    }


def collect(
    session: Session, user: User, setting: NotificationSetting, now: datetime, default_zone: str
) -> dict[str, Any] | None:
    """The digest's context for `user` at `now` (plain values, kept in the message jobs), None when empty."""
    actor = Actor(user.username, user.id, frozenset(user.roles or []), frozenset(g.name for g in user.groups))
    zone = zone_of(setting.digest_zone, default_zone)
    waiting_query = inbox_query(actor, InboxFilter(), now).options(
        selectinload(HumanTask.instance).selectinload(ProcessInstance.definition)
    )
    order = (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)
    overdue = list(session.scalars(waiting_query.where(overdue_condition(HumanTask.due_at, now)).order_by(*order)))
    late = {t.id for t in overdue}
    waiting = [t for t in session.scalars(waiting_query.order_by(*order)) if t.id not in late]
    delegated = list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.status == "open", HumanTask.owner == user.username, HumanTask.assignee != user.username)
            .options(selectinload(HumanTask.instance).selectinload(ProcessInstance.definition))
            .order_by(*order)
        )
    )
    if not (waiting or overdue or delegated):
        return None
    return {
        "kind": "digest",
        "display_name": user.display_name or user.username,
        "day": now.astimezone(zone).date().isoformat(),
        "zone": zone.key,
        "counts": {"waiting": len(waiting), "overdue": len(overdue), "delegated": len(delegated)},
        "overdue": [_item(t, zone) for t in overdue[:LIST_LIMIT]],
        "waiting": [_item(t, zone) for t in waiting[:LIST_LIMIT]],
        "delegated": [_item(t, zone, with_assignee=True) for t in delegated[:LIST_LIMIT]],
        "link": "/tasks",
    }


def run(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """The digest job: what the person's digest says now (nothing to send on an empty day or when it is off)."""
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        found = uow.session.execute(
            select(User, NotificationSetting)
            .join(NotificationSetting, NotificationSetting.user_id == User.id)
            .options(selectinload(User.groups))
            .where(User.username == job.payload["username"])
        ).first()
        if found is None or not found[0].active or not found[1].digest_enabled:
            return {"skipped": "the digest is off or the user is inactive"}
        user, setting = found
        context = collect(uow.session, user, setting, now, ctx.settings.default_timezone)
        if context is None:
            return {"skipped": "nothing waits, nothing is overdue, nothing is delegated"}
        return {"context": context, "channels": [c for c in SEND if c in (setting.digest_channels or [])]}


def _send_and_plan(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    """In the job's finishing transaction (once, under its lease): one message job per channel, then tomorrow's."""
    username, now = job.payload["username"], ctx.clock.now()
    if result and result.get("context"):
        for channel in result.get("channels", []):
            jobs.enqueue(
                session,
                SEND[channel],
                {"username": username, "channel": channel, "kind": "digest", "context": result["context"]},
                now,
                dedupe_key=f"{job.dedupe_key}:{channel}",
                max_attempts=6,
            )
    _plan_next(ctx, session, job)


def _plan_next(ctx: EngineContext, session: Session, job: Job, error: str | None = None) -> None:
    row = session.scalars(
        select(NotificationSetting)
        .join(User, User.id == NotificationSetting.user_id)
        .where(User.username == job.payload["username"], User.active.is_(True))
    ).first()
    schedule(session, job.payload["username"], row, ctx.clock.now(), ctx.settings.default_timezone)


# Registered by engine.bootstrap.
JOBS = {KIND: jobs.JobHandler(run=run, done=_send_and_plan, exhausted=_plan_next)}
