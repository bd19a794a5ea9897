"""Timers are claimed in batches: each still fires once, and one failing step does not hold up the rest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.db.models import Event, ProcessInstance
from engine.runtime import instances, timers
from tests.factories import BOT, deploy_shipped


def start(ctx, key: str):
    return instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key=key,
        variables={"title": "t", "budget": 1000, "department": "IT", "approval_sla": "PT1H"},
    )


def fired_per_instance(ctx) -> dict[str, int]:
    with ctx.uow(write=False) as uow:
        fired = (Event.instance_id == ProcessInstance.id) & (Event.type == "timer_fired")
        rows = uow.session.execute(
            select(ProcessInstance.business_key, func.count(Event.id))
            .join(Event, fired, isouter=True)
            .group_by(ProcessInstance.business_key)
        )
        return dict(rows.all())


def test_batches_fire_every_due_timer_once(ctx, clock):
    deploy_shipped(ctx)
    for i in range(7):
        start(ctx, f"k{i}")
    clock.advance(timedelta(hours=2))
    assert timers.fire_due(ctx, limit=5, batch=3) == 5  # the limit holds across batches
    assert timers.fire_due(ctx, limit=100, batch=3) == 2
    assert timers.fire_due(ctx) == 0
    assert set(fired_per_instance(ctx).values()) == {1}


def test_a_failing_step_is_postponed_and_the_rest_of_its_batch_fires(ctx, clock, monkeypatch):
    deploy_shipped(ctx)
    for key in ("a", "bad", "c"):
        start(ctx, key)
    clock.advance(timedelta(hours=2))
    real = timers.run_step

    def failing(ctx_, session, instance, action, actor):
        if instance.business_key == "bad":
            raise RuntimeError("broken step")
        return real(ctx_, session, instance, action, actor)

    monkeypatch.setattr(timers, "run_step", failing)
    assert timers.fire_due(ctx, batch=10) == 2
    assert fired_per_instance(ctx) == {"a": 1, "bad": 0, "c": 1}
    with ctx.uow(write=False) as uow:
        due = uow.session.scalar(select(ProcessInstance.next_due_at).where(ProcessInstance.business_key == "bad"))
    assert due == clock.now() + timers.RETRY_LATER
    assert timers.fire_due(ctx) == 0  # not retried in a tight loop
    monkeypatch.setattr(timers, "run_step", real)
    clock.advance(timers.RETRY_LATER + timedelta(seconds=1))
    assert timers.fire_due(ctx) == 1 and fired_per_instance(ctx)["bad"] == 1
