"""Timers fire exactly once, from the injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from engine.db.models import Event
from engine.runtime import instances
from engine.runtime.timers import fire_due, next_due
from engine.runtime.worker import Worker
from tests.factories import ADMIN, AUDREY, BOT, deploy_shipped


def start_intake(ctx, sla: str = "PT1H"):
    return instances.start(
        ctx, BOT, "project-intake", variables={"title": "t", "budget": 1000, "department": "IT", "approval_sla": sla}
    )


def count(ctx, event_type: str) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(Event).where(Event.type == event_type)) or 0


def test_nothing_fires_before_it_is_due_and_then_exactly_once(ctx, clock):
    deploy_shipped(ctx)
    view = start_intake(ctx)
    assert next_due(ctx) == clock.now() + timedelta(hours=1)
    clock.advance(timedelta(minutes=59))
    assert fire_due(ctx) == 0
    clock.advance(timedelta(minutes=2))
    assert fire_due(ctx) == 1
    assert fire_due(ctx) == 0
    after = instances.get(ctx, ADMIN, view.id)
    assert [t.element_id for t in after.open_tasks] == ["escalated_it_manager_approval"]
    trail = {e.type: e for e in instances.audit_trail(ctx, AUDREY, view.id)}
    assert trail["sla_breached"].element_id == "it_manager_approval"
    assert trail["timer_fired"].element_id == "it_manager_sla" and trail["timer_fired"].actor == "timer"
    assert next_due(ctx) is None  # the escalation task carries no SLA of its own


def test_concurrent_workers_fire_each_timer_once(ctx, clock):
    deploy_shipped(ctx)
    for _ in range(12):
        start_intake(ctx)
    clock.advance(timedelta(hours=2))
    fired: list[int] = []
    threads = [threading.Thread(target=lambda: fired.append(fire_due(ctx))) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(fired) == 12
    assert count(ctx, "sla_breached") == 12 and count(ctx, "timer_fired") == 12


def test_the_worker_loop_fires_and_stops(ctx, clock):
    deploy_shipped(ctx)
    start_intake(ctx, "PT1M")
    clock.advance(timedelta(minutes=5))
    worker = Worker(ctx, max_sleep=0.05)
    thread = worker.start_thread()
    for _ in range(200):
        if count(ctx, "timer_fired"):
            break
        threading.Event().wait(0.02)
    worker.request_stop()
    thread.join(timeout=5)
    assert count(ctx, "timer_fired") == 1 and not thread.is_alive()
