"""Firing due timers: due instances are claimed in small batches, one transaction per batch.

`next_due_at` (indexed with status) says when an instance's earliest timer fires; it is
recomputed after every step. On PostgreSQL a batch of due instances is claimed with
`FOR UPDATE SKIP LOCKED LIMIT n`, so any number of workers on any number of hosts share the
work and never fire one timer twice: the row locks last until the batch commits, and a worker
killed mid-batch (SIGKILL) loses its connection, so its transaction rolls back, the locks go
and another worker fires those timers. On SQLite writers take the database lock at BEGIN.
If a step fails, the batch rolls back and its instances are fired one per transaction; the
failing one is looked at again a minute later. (No savepoint per instance: the audit chain
links a transaction's events at commit under one lock, so a batch takes that lock once.)
The comparison is strict (`due < now`), as in SpiffWorkflow, so a claimed instance always
has something to fire. A batch takes no further instance once it has run for a quarter of a
step's time budget (each step is held to that budget itself, engine/spiff/runtime/budget.py), so a
batch holds SQLite's write lock, or its rows' locks, for little more than one step's budget.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.db.models import ProcessInstance
from engine.runtime.steps import run_step

TIMER_ACTOR = "timer"
RETRY_LATER = timedelta(minutes=1)
log = logging.getLogger("pmoflow.timers")


BATCH = 25  # instances per claiming transaction: fewer commits, locks held briefly
BATCH_SHARE = 0.25  # a batch takes no further instance once it ran this share of a step's time budget


def fire_due(ctx: EngineContext, limit: int = 100, batch: int = BATCH) -> int:
    """Step every instance whose timer is due (at most `limit`, and for about one step's time budget,
    so the worker comes back to its other work); returns how many were stepped."""
    fired = 0
    started = time.monotonic()
    while fired < limit:
        wanted = min(batch, limit - fired)
        stepped = _fire_batch(ctx, wanted)
        fired += stepped
        if stepped < wanted or time.monotonic() - started > ctx.limits.max_seconds:
            break
    return fired


def _fire_batch(ctx: EngineContext, size: int) -> int:
    now = ctx.clock.now()
    claimed: list[int] = []
    try:
        with ctx.uow() as uow:
            batch = list(uow.session.scalars(_due(uow.dialect, now).limit(size)))
            claimed = [instance.id for instance in batch]
            fired = 0
            started = time.monotonic()
            for instance in batch:
                if fired and time.monotonic() - started > ctx.limits.max_seconds * BATCH_SHARE:
                    break  # the rest waits for the next batch: the lock is held briefly
                _fire(ctx, uow.session, instance, now)
                fired += 1
            uow.commit()
            return fired
    except Exception:  # noqa: BLE001 - the whole batch rolled back: fire its instances one by one
        if not claimed:
            raise
        log.warning("a batch of %d timers failed; firing them one by one", len(claimed))
    return sum(_fire_alone(ctx, instance_id) for instance_id in claimed)


def _due(dialect: str, now: datetime) -> Select[ProcessInstance]:
    query = (
        select(ProcessInstance)
        .where(ProcessInstance.status == "running", ProcessInstance.next_due_at < now)
        .order_by(ProcessInstance.next_due_at)
    )
    return query.with_for_update(skip_locked=True) if dialect == "postgresql" else query


def _fire_alone(ctx: EngineContext, instance_id: int) -> int:
    """Fire one instance in its own transaction; a failing step postpones it by RETRY_LATER."""
    now = ctx.clock.now()
    try:
        with ctx.uow() as uow:
            instance = uow.session.scalars(_due(uow.dialect, now).where(ProcessInstance.id == instance_id)).first()
            if instance is None:
                return 0  # fired meanwhile by another worker, or locked by one
            _fire(ctx, uow.session, instance, now)
            uow.commit()
            return 1
    except Exception:  # noqa: BLE001 - logged; the instance is looked at again a minute later
        log.exception("instance %s: firing its timer failed; retrying in a minute", instance_id)
    with ctx.uow() as uow:
        uow.session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance_id, ProcessInstance.status == "running")
            .values(next_due_at=now + RETRY_LATER)
        )
        uow.commit()
    return 0


def _fire(ctx: EngineContext, session: Session, instance: ProcessInstance, now: datetime) -> None:
    claimed_due = instance.next_due_at
    run_step(ctx, session, instance, lambda run: run.advance(), TIMER_ACTOR)
    if instance.next_due_at is not None and claimed_due is not None and instance.next_due_at <= claimed_due:
        # Nothing fired although a timer looked due: look again later instead of spinning.
        log.warning("instance %s: timer due %s did not fire; retrying in a minute", instance.uuid, claimed_due)
        instance.next_due_at = now + RETRY_LATER


def next_due(ctx: EngineContext) -> datetime | None:
    """When the earliest timer of any running instance fires."""
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(
            select(func.min(ProcessInstance.next_due_at)).where(ProcessInstance.status == "running")
        )
