"""Firing due timers: each due instance is claimed and stepped in its own transaction.

`next_due_at` (indexed with status) says when an instance's earliest timer fires; it is
recomputed after every step. On PostgreSQL a due instance is claimed with
`FOR UPDATE SKIP LOCKED`, so any number of workers on any number of hosts share the work
and never fire one timer twice; on SQLite writers take the database lock at BEGIN.
The comparison is strict (`due < now`), as in SpiffWorkflow, so a claimed instance always
has something to fire.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.context import EngineContext
from engine.db.models import ProcessInstance
from engine.steps import run_step

TIMER_ACTOR = "timer"
RETRY_LATER = timedelta(minutes=1)
log = logging.getLogger("pmoflow.timers")


def fire_due(ctx: EngineContext, limit: int = 100) -> int:
    """Step every instance whose timer is due (at most `limit`); returns how many were stepped."""
    fired = 0
    while fired < limit and _fire_one(ctx):
        fired += 1
    return fired


def _fire_one(ctx: EngineContext) -> bool:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        query = (select(ProcessInstance)
                 .where(ProcessInstance.status == "running", ProcessInstance.next_due_at < now)
                 .order_by(ProcessInstance.next_due_at).limit(1))
        if uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        instance = uow.session.scalars(query).first()
        if instance is None:
            return False
        claimed_due = instance.next_due_at
        run_step(ctx, uow.session, instance, lambda run: run.advance(), TIMER_ACTOR)
        if instance.next_due_at is not None and claimed_due is not None and instance.next_due_at <= claimed_due:
            # Nothing fired although a timer looked due: look again later instead of spinning.
            log.warning("instance %s: timer due %s did not fire; retrying in a minute", instance.uuid, claimed_due)
            instance.next_due_at = now + RETRY_LATER
        uow.commit()
        return True


def next_due(ctx: EngineContext) -> datetime | None:
    """When the earliest timer of any running instance fires."""
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.min(ProcessInstance.next_due_at))
                                  .where(ProcessInstance.status == "running"))
