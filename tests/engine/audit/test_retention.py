"""Retention: finished instances lose their variables after their process's policy; nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, null, select

from engine import bootstrap
from engine.audit import retention
from engine.core.errors import Forbidden, InvalidInput, NotFound
from engine.db.models import Event, HumanTask, Job, ProcessInstance
from engine.events import stream as audit
from engine.runtime import instances, jobs
from engine.tasks import completion
from tests.engine.monitoring.test_monitoring import DESIGNER, failing
from tests.factories import ADMIN, ALICE, BOT, deploy_shipped


def intake(ctx, key: str):
    return instances.start(
        ctx, BOT, "project-intake", business_key=key, variables={"title": key, "budget": 10_000, "department": "Sales"}
    )


def events(ctx) -> list[tuple]:
    with ctx.uow(write=False) as uow:
        return [(e.uuid, e.type, e.instance_id, e.data) for e in uow.session.scalars(select(Event).order_by(Event.id))]


def instance(ctx, instance_id: str) -> SimpleNamespace:
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).one()
        return SimpleNamespace(id=row.id, variables=row.variables, state=row.state, purged_at=row.purged_at)


@pytest.fixture
def aged(ctx, clock):
    """old-done and old-cancelled ended 40 days ago; old-running and an incident are as old; recent ended 5 days ago."""
    deploy_shipped(ctx)
    done, cancelled, running = intake(ctx, "old-done"), intake(ctx, "old-cancelled"), intake(ctx, "old-running")
    completion.complete(ctx, ALICE, done.open_tasks[0].id, {"decision": "approve", "comment": "secret remark"})
    instances.cancel(ctx, ADMIN, cancelled.id, "duplicate")
    broken = failing(ctx)
    clock.advance(timedelta(days=35))
    recent = intake(ctx, "recent")
    completion.complete(ctx, ALICE, recent.open_tasks[0].id, {"decision": "approve"})
    clock.advance(timedelta(days=5))
    return {"done": done.id, "cancelled": cancelled.id, "running": running.id, "broken": broken.id, "recent": recent.id}


def test_purge_clears_only_finished_instances_past_retention_and_keeps_the_trail(ctx, aged):
    retention.set_policy(ctx, ADMIN, "project-intake", 30)
    retention.set_policy(ctx, ADMIN, "calc", 1)
    before = events(ctx)
    result = retention.purge(ctx)
    assert result.purged == 2 and result.processes == {"project-intake": 2}
    for name in ("done", "cancelled"):
        row = instance(ctx, aged[name])
        assert (row.variables, row.state, row.purged_at) == ({}, "", ctx.clock.now())
        with ctx.uow(write=False) as uow:
            assert (
                uow.session.scalar(
                    select(func.count())
                    .select_from(HumanTask)
                    .where(HumanTask.instance_id == row.id, HumanTask.data.is_not(null()))
                )
                == 0
            )
    for name in ("running", "broken", "recent"):
        row = instance(ctx, aged[name])
        assert row.purged_at is None and row.state
    assert instance(ctx, aged["running"]).variables["title"] == "old-running"
    assert instance(ctx, aged["recent"]).variables["title"] == "recent"
    after = events(ctx)
    assert after[: len(before)] == before  # no event changed or removed
    purged = [e for e in after[len(before) :] if e[1] == "instance_purged"]
    assert len(purged) == 2 and purged[0][3]["retention_days"] == 30 and "title" in purged[0][3]["variables"]
    with ctx.uow(write=False) as uow:
        assert audit.verify(uow.session).ok
    assert retention.purge(ctx).purged == 0  # once is enough
    # the running instance goes on normally afterwards
    running = instances.get(ctx, ADMIN, aged["running"])
    completion.complete(ctx, ALICE, running.open_tasks[0].id, {"decision": "approve"})
    assert instances.get(ctx, ADMIN, aged["running"]).status == "completed"


def test_without_a_policy_nothing_is_purged(ctx, aged):
    assert retention.purge(ctx).purged == 0
    assert instance(ctx, aged["done"]).variables["title"] == "old-done"


def test_policies_are_an_admin_setting(ctx, aged):
    with pytest.raises(Forbidden):
        retention.set_policy(ctx, DESIGNER, "project-intake", 30)
    with pytest.raises(Forbidden):
        retention.policies(ctx, DESIGNER)
    with pytest.raises(NotFound):
        retention.set_policy(ctx, ADMIN, "nothing-deployed", 30)
    for days in (0, -1, 100_000):
        with pytest.raises(InvalidInput):
            retention.set_policy(ctx, ADMIN, "project-intake", days)
    retention.set_policy(ctx, ADMIN, "project-intake", 90)
    retention.set_policy(ctx, ADMIN, "project-intake", 60)
    views = {p.process: p for p in retention.policies(ctx, ADMIN)}
    assert (views["project-intake"].days, views["project-intake"].updated_by, views["calc"].days) == (60, "pmo", None)
    retention.set_policy(ctx, ADMIN, "project-intake", None)
    assert {p.process: p.days for p in retention.policies(ctx, ADMIN)}["project-intake"] is None
    changes = [e[3] for e in events(ctx) if e[1] == "retention_policy_changed"]
    assert [(c["before"], c["after"]) for c in changes] == [(None, 90), (90, 60), (60, None)]


def test_the_worker_runs_the_purge_daily(ctx, clock, aged):
    bootstrap.bootstrap()
    retention.set_policy(ctx, ADMIN, "project-intake", 30)
    retention.ensure_scheduled(ctx)  # already waiting: not twice
    with ctx.uow(write=False) as uow:
        [run_at] = uow.session.scalars(select(Job.run_at).where(Job.kind == retention.KIND)).all()
    assert run_at == retention.next_run(clock.now()) and run_at.time().hour == 2
    assert jobs.run_due(ctx) == 0  # not yet due
    clock.set(run_at + timedelta(seconds=1))
    assert jobs.run_due(ctx) == 1
    assert instance(ctx, aged["done"]).purged_at is not None
    with ctx.uow(write=False) as uow:
        rows = [
            SimpleNamespace(status=r.status, result=r.result, run_at=r.run_at)
            for r in uow.session.scalars(select(Job).where(Job.kind == retention.KIND).order_by(Job.id))
        ]
    assert [r.status for r in rows] == ["done", "pending"] and rows[0].result["purged"] == 2
    assert rows[1].run_at == rows[0].run_at + timedelta(days=1)


def test_next_run_is_the_coming_two_oclock():
    assert retention.next_run(datetime(2026, 1, 5, 1, 0, tzinfo=UTC)) == datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    assert retention.next_run(datetime(2026, 1, 5, 2, 0, tzinfo=UTC)) == datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
