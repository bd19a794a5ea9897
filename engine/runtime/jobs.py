"""Background jobs: work done after a commit, outside the request, by any number of workers.

A job is enqueued with `enqueue` in the transaction of the change that needs it (the outbox
pattern of DESIGN.md #1), so it exists exactly when that change committed. A worker then

1. claims due jobs in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite
   writers hold the database lock), marking them ``running`` with a lease (`locked_until`);
2. runs the handler outside any transaction (an HTTP call may take seconds);
3. records the outcome in a second transaction, which applies only if the lease is still its
   own: ``done``, a retry with exponential backoff, or ``failed`` when attempts run out.

A worker killed with SIGKILL mid-job loses nothing: its lease expires and another worker
claims the job again. So a handler's outside effect is at least once; handlers pass the
job's uuid on (webhook-id, Idempotency-Key) so receivers can drop repeats, and a handler's
effect in the database (`JobHandler.done`) is exactly once, guarded by the lease.

A module that runs jobs exports `JOBS` (kind -> `JobHandler`); the composition root
(`engine.bootstrap`) registers them with `register`, by reference.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.db.models import Job, ProcessInstance, new_uuid
from engine.db.uow import rows_changed

log = logging.getLogger("pmoflow.jobs")

DEFAULT_LEASE = timedelta(minutes=5)
ERROR_LIMIT = 2000
# Set after a commit that enqueued work, so an in-process worker wakes at once.
WAKE = threading.Event()


class RetryLater(Exception):  # noqa: N818 - it is an outcome, not an error
    """Raised by a handler: try again (after `delay`, or the usual backoff), counting an attempt."""

    def __init__(self, message: str, delay: timedelta | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentFailure(Exception):  # noqa: N818
    """Raised by a handler: retrying cannot help (a 4xx answer, a refused address); fail now."""


@dataclass(frozen=True)
class ClaimedJob:
    """What a handler sees: a snapshot of the job taken when it was claimed."""

    id: int
    uuid: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    instance_id: int | None
    lease_until: datetime
    worker: str


def default_backoff(attempt: int) -> timedelta:
    """10 s, 20 s, 40 s, ... capped at one hour (attempt counts from 1)."""
    return timedelta(seconds=min(3600, 10 * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class JobHandler:
    run: Callable[[EngineContext, ClaimedJob], dict[str, Any] | None]
    # In the finishing transaction, only if the lease is still ours: apply the result.
    done: Callable[[EngineContext, Session, Job, dict[str, Any] | None], None] | None = None
    # In the finishing transaction when the job fails for good (e.g. raise an incident).
    exhausted: Callable[[EngineContext, Session, Job, str], None] | None = None
    backoff: Callable[[int], timedelta] = default_backoff
    lease: timedelta = DEFAULT_LEASE


HANDLERS: dict[str, JobHandler] = {}


def register(kind: str, spec: JobHandler) -> None:
    """Make `spec` the runner of jobs of `kind` (again: the same spec, nothing changes)."""
    HANDLERS[kind] = spec


def handler(
    kind: str,
    *,
    done: Callable[[EngineContext, Session, Job, dict[str, Any] | None], None] | None = None,
    exhausted: Callable[[EngineContext, Session, Job, str], None] | None = None,
    backoff: Callable[[int], timedelta] = default_backoff,
    lease: timedelta = DEFAULT_LEASE,
) -> Callable[
    [Callable[[EngineContext, ClaimedJob], dict[str, Any] | None]],
    Callable[[EngineContext, ClaimedJob], dict[str, Any] | None],
]:
    """Register the decorated function as the runner of jobs of `kind` (for tests and one-off tools;
    the engine's own handlers are registered by `engine.bootstrap`)."""

    def decorate(
        run: Callable[[EngineContext, ClaimedJob], dict[str, Any] | None],
    ) -> Callable[[EngineContext, ClaimedJob], dict[str, Any] | None]:
        register(kind, JobHandler(run=run, done=done, exhausted=exhausted, backoff=backoff, lease=lease))
        return run

    return decorate


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    run_at: datetime | None = None,
    max_attempts: int = 5,
    dedupe_key: str | None = None,
    instance: ProcessInstance | None = None,
) -> Job:
    """Add a job to the caller's transaction (not committed); it runs once that commits."""
    job = Job(
        uuid=new_uuid(),
        kind=kind,
        payload=payload,
        status="pending",
        run_at=run_at or now,
        attempts=0,
        max_attempts=max_attempts,
        dedupe_key=dedupe_key,
        created_at=now,
        instance_id=instance.id if instance is not None else None,
    )
    session.add(job)
    _wake_after_commit(session)
    return job


def requeue(session: Session, job: Job, now: datetime, extra_attempts: int = 1) -> None:
    """Run a finished or failed job again now (a manual redelivery)."""
    job.status = "pending"
    job.run_at = now
    job.max_attempts = job.attempts + extra_attempts
    job.locked_by = None
    job.locked_until = None
    job.finished_at = None
    _wake_after_commit(session)


def _wake_after_commit(session: Session) -> None:
    info = session.info
    if not info.get("pmoflow_wake"):
        info["pmoflow_wake"] = True

        def _wake(sess: Session) -> None:
            sess.info.pop("pmoflow_wake", None)
            WAKE.set()

        def _forget(sess: Session, *args: Any) -> None:
            sess.info.pop("pmoflow_wake", None)

        sa_event.listen(session, "after_commit", _wake, once=True)
        sa_event.listen(session, "after_soft_rollback", _forget, once=True)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _claimable(now: datetime) -> Any:
    return or_(
        (Job.status == "pending") & (Job.run_at <= now),
        (Job.status == "running") & (Job.locked_until < now),
    )


def claim(ctx: EngineContext, worker: str, limit: int = 10) -> list[ClaimedJob]:
    """Claim up to `limit` due jobs (and jobs whose lease expired) in one short transaction."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        query = select(Job).where(_claimable(now)).order_by(Job.run_at, Job.id).limit(limit)
        if uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for job in uow.session.scalars(query):
            spec = HANDLERS.get(job.kind)
            lease = spec.lease if spec else DEFAULT_LEASE
            if job.status == "running":
                log.warning("job %s (%s): lease of %s expired; claiming it again", job.uuid, job.kind, job.locked_by)
            job.status = "running"
            job.attempts += 1
            job.locked_by = worker
            job.locked_until = now + lease
            claimed.append(
                ClaimedJob(
                    id=job.id,
                    uuid=job.uuid,
                    kind=job.kind,
                    payload=dict(job.payload),
                    attempt=job.attempts,
                    max_attempts=job.max_attempts,
                    instance_id=job.instance_id,
                    lease_until=job.locked_until,
                    worker=worker,
                )
            )
        uow.commit()
    return claimed


@dataclass
class Outcome:
    result: dict[str, Any] | None = None
    error: str | None = None
    retry_delay: timedelta | None = None
    permanent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def execute(ctx: EngineContext, job: ClaimedJob) -> Outcome:
    """Run the job's handler outside any transaction and say how it went (never raises)."""
    spec = HANDLERS.get(job.kind)
    if spec is None:
        return Outcome(error=f"no handler for jobs of kind {job.kind!r}", permanent=True)
    try:
        return Outcome(result=spec.run(ctx, job))
    except RetryLater as err:
        return Outcome(error=str(err) or "retry later", retry_delay=err.delay)
    except PermanentFailure as err:
        return Outcome(error=str(err) or "failed", permanent=True)
    except Exception as err:  # noqa: BLE001 - any other failure is retried with backoff
        log.warning("job %s (%s) attempt %d failed: %s", job.uuid, job.kind, job.attempt, err)
        return Outcome(error=f"{type(err).__name__}: {err}")


def finish(ctx: EngineContext, job: ClaimedJob, outcome: Outcome) -> bool:
    """Record the outcome if the lease is still ours; False if another worker took the job over."""
    now = ctx.clock.now()
    spec = HANDLERS.get(job.kind)
    with ctx.uow() as uow:
        query = select(Job).where(Job.id == job.id, Job.status == "running", Job.locked_by == job.worker)
        if uow.dialect == "postgresql":
            query = query.with_for_update()
        row = uow.session.scalars(query).first()
        if row is None:
            log.warning("job %s (%s): lease lost before it finished; its outcome is dropped", job.uuid, job.kind)
            return False
        row.locked_by = None
        row.locked_until = None
        if outcome.error is None:
            row.status = "done"
            row.result = outcome.result
            row.last_error = None
            row.finished_at = now
            if spec and spec.done:
                spec.done(ctx, uow.session, row, outcome.result)
        elif outcome.permanent or row.attempts >= row.max_attempts:
            row.status = "failed"
            row.last_error = outcome.error[:ERROR_LIMIT]
            row.finished_at = now
            if spec and spec.exhausted:
                spec.exhausted(ctx, uow.session, row, outcome.error)
        else:
            row.status = "pending"
            row.last_error = outcome.error[:ERROR_LIMIT]
            backoff = spec.backoff if spec else default_backoff
            row.run_at = now + (outcome.retry_delay if outcome.retry_delay is not None else backoff(row.attempts))
        uow.commit()
    return True


def run_due(
    ctx: EngineContext, limit: int = 10, worker: str | None = None, beat: Callable[[], None] | None = None
) -> int:
    """Claim and run due jobs, at most `limit`, calling `beat` before each (a worker's heartbeat);
    returns how many ran."""
    claimed = claim(ctx, worker or worker_id(), limit)
    for job in claimed:
        if beat is not None:
            beat()
        outcome = execute(ctx, job)
        try:
            finish(ctx, job, outcome)
        except Exception:  # noqa: BLE001 - the lease expires and the job is run again
            log.exception("job %s (%s): recording the outcome failed", job.uuid, job.kind)
    return len(claimed)


def next_run_at(ctx: EngineContext) -> datetime | None:
    """When the next job becomes claimable (a pending job's run time or a running one's lease end)."""
    with ctx.uow(write=False) as uow:
        pending = uow.session.scalar(select(func.min(Job.run_at)).where(Job.status == "pending"))
        leased = uow.session.scalar(select(func.min(Job.locked_until)).where(Job.status == "running"))
    dues = [d for d in (pending, leased) if d is not None]
    return min(dues) if dues else None


def release_worker(ctx: EngineContext, worker: str) -> int:
    """Give back the leases of a worker that stops cleanly, so its jobs run again at once."""
    with ctx.uow() as uow:
        result = uow.session.execute(
            update(Job)
            .where(Job.status == "running", Job.locked_by == worker)
            .values(
                status="pending", locked_by=None, locked_until=None, run_at=ctx.clock.now(), attempts=Job.attempts - 1
            )
        )
        uow.commit()
    return rows_changed(result)
