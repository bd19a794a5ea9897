"""Retention: per process, how many days finished instances keep their variables.

The purge (a worker job, `retention_purge`, re-scheduled once a day) clears the variables,
the workflow state and the task form data of completed and cancelled instances that ended
longer ago than their process's policy allows. Running and failed instances are never
touched. Each purged instance gets one `instance_purged` event; events themselves are never
changed or deleted, so the audit chain stays verifiable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import HumanTask, Job, ProcessDefinition, ProcessInstance, RetentionPolicy
from engine.db.uow import rows_changed
from engine.events import stream as audit
from engine.runtime import jobs

KIND = "retention_purge"
FINISHED = ("completed", "cancelled")
BATCH = 200
MAX_DAYS = 36_500
RUN_AT = time(2, 0)  # the daily purge runs at 02:00 UTC


@dataclass(frozen=True)
class PolicyView:
    process: str
    days: int | None  # None: kept for ever
    updated_by: str | None
    updated_at: datetime | None


def policies(ctx: EngineContext, actor: Actor) -> list[PolicyView]:
    """Every deployed process with its retention (None: no policy); raises Forbidden."""
    require(actor, "retention.manage")
    with ctx.uow(write=False) as uow:
        keys = list(uow.session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))
        rows = {
            r.process_key: PolicyView(r.process_key, r.days, r.updated_by, r.updated_at)
            for r in uow.session.scalars(select(RetentionPolicy))
        }
    return [rows.get(k) or PolicyView(k, None, None, None) for k in sorted(set(keys) | set(rows))]


def set_policy(ctx: EngineContext, actor: Actor, process: str, days: int | None) -> PolicyView:
    """Keep finished instances' variables `days` days (None removes the policy); raises Forbidden,
    NotFound (no such process) or InvalidInput (days out of range)."""
    require(actor, "retention.manage")
    if days is not None and not (isinstance(days, int) and 1 <= days <= MAX_DAYS):
        raise InvalidInput(f"days must be a whole number from 1 to {MAX_DAYS}", {"fields": {"days": "out of range"}})
    now = ctx.clock.now()
    with ctx.uow() as uow:
        s = uow.session
        if s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == process).limit(1)) is None:
            raise NotFound(f"process {process!r} is not deployed")
        row = s.scalars(select(RetentionPolicy).where(RetentionPolicy.process_key == process)).first()
        before = row.days if row else None
        if days is None:
            if row is not None:
                s.delete(row)
        elif row is None:
            row = RetentionPolicy(process_key=process, days=days, updated_by=actor.username, updated_at=now)
            s.add(row)
        else:
            row.days, row.updated_by, row.updated_at = days, actor.username, now
        audit.record(
            s,
            "retention_policy_changed",
            now,
            actor=actor.username,
            data={"process": process, "before": before, "after": days},
        )
        if days is not None:
            schedule(s, now)
        uow.commit()
    return PolicyView(process, days, actor.username if days is not None else None, now if days is not None else None)


def next_run(now: datetime) -> datetime:
    """The next daily run time after `now`."""
    today = datetime.combine(now.date(), RUN_AT, tzinfo=now.tzinfo)
    return today if today > now else today + timedelta(days=1)


def schedule(session: Session, now: datetime, at: datetime | None = None) -> Job | None:
    """Enqueue the purge (at most one waiting at a time, one per day by its dedupe key)."""
    waiting = session.scalar(select(Job.id).where(Job.kind == KIND, Job.status.in_(("pending", "running"))).limit(1))
    if waiting is not None:
        return None
    run_at = at or next_run(now)
    key = f"{KIND}:{run_at.date().isoformat()}"
    if session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return None
    return jobs.enqueue(session, KIND, {}, now, run_at=run_at, dedupe_key=key, max_attempts=3)


def ensure_scheduled(ctx: EngineContext) -> None:
    """Called when a worker starts: make sure a purge is waiting if any process has a policy."""
    with ctx.uow() as uow:
        if uow.session.scalar(select(RetentionPolicy.id).limit(1)) is None:
            return
        if schedule(uow.session, ctx.clock.now()) is not None:
            uow.commit()


@dataclass(frozen=True)
class PurgeResult:
    purged: int
    processes: dict[str, int]


def purge(ctx: EngineContext, actor: str = "system", batch: int = BATCH) -> PurgeResult:
    """Clear the data of every finished instance past its process's retention, `batch` per transaction."""
    with ctx.uow(write=False) as uow:
        rules = {r.process_key: r.days for r in uow.session.scalars(select(RetentionPolicy))}
    total: dict[str, int] = {}
    for key, days in sorted(rules.items()):
        while True:
            done = _purge_batch(ctx, key, days, actor, batch)
            if done:
                total[key] = total.get(key, 0) + done
            if done < batch:
                break
    return PurgeResult(sum(total.values()), total)


def _purge_batch(ctx: EngineContext, key: str, days: int, actor: str, batch: int) -> int:
    now = ctx.clock.now()
    cutoff = now - timedelta(days=days)
    with ctx.uow() as uow:
        s = uow.session
        query = (
            select(ProcessInstance)
            .join(ProcessDefinition)
            .where(
                ProcessDefinition.key == key,
                ProcessInstance.status.in_(FINISHED),
                ProcessInstance.ended_at < cutoff,
                ProcessInstance.purged_at.is_(None),
            )
            .order_by(ProcessInstance.id)
            .limit(batch)
        )
        if uow.dialect == "postgresql":
            query = query.with_for_update(of=ProcessInstance, skip_locked=True)
        rows = list(s.scalars(query))
        for inst in rows:
            _purge_one(s, inst, key, days, actor, now)
        uow.commit()
    return len(rows)


def _purge_one(s: Session, inst: ProcessInstance, key: str, days: int, actor: str, now: datetime) -> None:
    names = sorted(inst.variables or {})
    tasks = s.execute(
        update(HumanTask)
        .where(HumanTask.instance_id == inst.id, HumanTask.data.is_not(null()))
        .values(data=null())
        .execution_options(synchronize_session=False)
    )  # SQL NULL, not JSON null
    inst.variables = {}
    inst.state = ""
    inst.purged_at = now
    audit.record(
        s,
        "instance_purged",
        now,
        instance=inst,
        actor=actor,
        data={
            "process": key,
            "retention_days": days,
            "ended_at": inst.ended_at.isoformat() if inst.ended_at else None,
            "variables": names,
            "task_data_cleared": rows_changed(tasks),
        },
    )


def _reschedule(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    schedule(session, ctx.clock.now())


def _reschedule_after_failure(ctx: EngineContext, session: Session, job: Job, error: str) -> None:
    schedule(session, ctx.clock.now())


def run_purge(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """The worker's daily purge; the next one is scheduled when this one is recorded."""
    result = purge(ctx)
    return {"purged": result.purged, "processes": result.processes}


# Registered by engine.bootstrap.
JOBS = {KIND: jobs.JobHandler(run=run_purge, done=_reschedule, exhausted=_reschedule_after_failure)}

__all__ = ["policies", "set_policy", "purge", "schedule", "ensure_scheduled", "next_run", "JOBS"]
