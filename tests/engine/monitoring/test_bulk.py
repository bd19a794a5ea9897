"""Bulk actions over ticked instances: each instance's outcome (done, skipped, changed meanwhile, refused),
the single action's service and audit for each, and a race lost to someone else reported, not raised."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.core.errors import Forbidden, InvalidInput
from engine.core.permissions import Actor
from engine.db import statements
from engine.db.models import Event
from engine.monitoring import bulk
from engine.monitoring import instances as monitoring
from engine.monitoring.filters import InstanceFilter
from engine.runtime import instances, steps
from engine.tasks import completion
from tests.factories import ADMIN, ALICE, BOT, deploy_shipped

DESIGNER = Actor("dana", roles=frozenset({"designer"}))
OLGA = Actor("olga", roles=frozenset({"admin"}))  # another administrator
ALL = InstanceFilter()


def intake(ctx, key: str):
    return instances.start(
        ctx, BOT, "project-intake", business_key=key, variables={"title": f"Project {key}", "budget": 50_000}
    )


def listed(ctx) -> dict[str, bulk.Picked]:
    """The list as the page shows it: each instance with the revision it had then."""
    return {r.business_key: bulk.Picked(r.id, r.revision) for r in monitoring.search(ctx, ADMIN, ALL).items}


def outcomes(result: bulk.BulkResult) -> dict[str | None, str]:
    return {i.business_key: i.outcome for i in result.items}


def test_ticked_instances_are_cancelled_one_by_one_and_what_does_not_apply_is_skipped(ctx):
    deploy_shipped(ctx)
    a, b, done = intake(ctx, "A"), intake(ctx, "B"), intake(ctx, "DONE")
    intake(ctx, "NOT-TICKED")
    completion.complete(ctx, ALICE, done.open_tasks[0].id, {"decision": "reject", "comment": "no"})
    rows = listed(ctx)
    picked = [rows["A"], rows["B"], rows["DONE"]]
    p = bulk.plan(ctx, ADMIN, "cancel", ALL, picked)
    assert (p.picked, p.matched, p.applicable, p.to_do) == (True, 3, 2, 2)
    assert [(t.business_key, t.applies) for t in p.targets] == [("A", True), ("B", True), ("DONE", False)]
    assert "only running or failed instances are cancelled" in (p.targets[2].why_not or "")
    result = bulk.run(ctx, ADMIN, "cancel", ALL, "duplicates", picked)
    assert outcomes(result) == {"A": "done", "B": "done", "DONE": "skipped"}
    assert result.counts == {"done": 2, "skipped": 1, "conflict": 0, "failed": 0}
    statuses = {r.business_key: r.status for r in monitoring.search(ctx, ADMIN, ALL).items}
    assert statuses == {"A": "cancelled", "B": "cancelled", "DONE": "completed", "NOT-TICKED": "running"}
    with ctx.uow(write=False) as uow:  # audited as the single action is: one event per instance, by the admin
        cancelled = uow.session.execute(
            select(Event.instance_uuid, Event.actor, Event.data).where(Event.type == "instance_cancelled")
        ).all()
    assert sorted((i, who, d["reason"]) for i, who, d in cancelled) == sorted(
        [(a.id, ADMIN.username, "duplicates"), (b.id, ADMIN.username, "duplicates")]
    )


def test_an_instance_changed_by_someone_else_after_the_list_was_shown_is_a_conflict(ctx):
    deploy_shipped(ctx)
    for key in ("A", "B", "C"):
        intake(ctx, key)
    rows = listed(ctx)
    instances.cancel(ctx, OLGA, rows["B"].id, "someone else was quicker")  # no longer applies
    b_task = instances.get(ctx, ADMIN, rows["C"].id).open_tasks[0].id
    completion.complete(ctx, ALICE, b_task, {"decision": "approve"})  # still running, but moved on
    result = bulk.run(ctx, ADMIN, "cancel", ALL, "cleanup", [rows["A"], rows["B"], rows["C"]])
    assert outcomes(result) == {"A": "done", "B": "conflict", "C": "conflict"}
    messages = {i.business_key: i.message for i in result.items}
    assert "changed after the list was shown (now cancelled: instance cancelled by olga)" in messages["B"]
    assert "task completed by alice" in messages["C"]
    assert instances.get(ctx, ADMIN, rows["C"].id).status == "running"  # left alone
    fresh = listed(ctx)["C"]  # reloaded: the same action now goes through
    assert outcomes(bulk.run(ctx, ADMIN, "cancel", ALL, "cleanup", [fresh])) == {"C": "done"}


def test_a_race_lost_inside_the_step_is_that_instance_s_conflict_and_the_others_go_on(ctx, monkeypatch):
    deploy_shipped(ctx)
    for key in ("A", "B"):
        intake(ctx, key)
    rows = listed(ctx)
    real_save = steps.save_run

    def someone_saved_meanwhile(session, instance, *args, **kwargs):
        if instance.business_key == "A":  # another step committed between this step's read and its save
            table = statements._INSTANCES
            session.connection().execute(
                update(table).where(table.c.id == instance.id).values(revision=table.c.revision + 1)
            )
        return real_save(session, instance, *args, **kwargs)

    monkeypatch.setattr(steps, "save_run", someone_saved_meanwhile)
    result = bulk.run(ctx, ADMIN, "cancel", ALL, "cleanup", [rows["A"], rows["B"]])
    monkeypatch.undo()
    assert outcomes(result) == {"A": "conflict", "B": "done"}
    assert "changed at the same time" in result.items[0].message
    assert instances.get(ctx, ADMIN, rows["A"].id).status == "running"


def test_picks_are_checked_before_anything_is_done(ctx):
    deploy_shipped(ctx)
    a = intake(ctx, "A")
    picked = [bulk.Picked(a.id)]
    with pytest.raises(Forbidden):
        bulk.run(ctx, DESIGNER, "cancel", ALL, "x", picked)
    with pytest.raises(Forbidden):
        bulk.plan(ctx, ALICE, "retry", ALL, picked)
    with pytest.raises(InvalidInput, match="tick at least one"):
        bulk.plan(ctx, ADMIN, "cancel", ALL, [])
    with pytest.raises(InvalidInput, match="at most 500"):
        bulk.plan(ctx, ADMIN, "cancel", ALL, [bulk.Picked(f"id-{i}") for i in range(501)])
    with pytest.raises(InvalidInput, match="reason"):
        bulk.run(ctx, ADMIN, "cancel", ALL, " ", picked)
    with pytest.raises(InvalidInput, match="one process"):
        bulk.plan(ctx, ADMIN, "migrate", ALL, picked, version=1)
    with pytest.raises(InvalidInput):
        bulk.Picked.parse("abc:not-a-number")
    assert bulk.Picked.parse(f"{a.id}:7") == bulk.Picked(a.id, 7) and bulk.Picked.parse(a.id) == bulk.Picked(a.id)
    unknown = bulk.run(ctx, ADMIN, "cancel", ALL, "x", [bulk.Picked("no-such-instance", 0), *picked])
    assert [(i.outcome, i.message) for i in unknown.items] == [("skipped", "it does not exist"), ("done", "cancelled")]


def test_all_matching_counts_what_does_not_apply_and_moves_only_the_others(ctx):
    deploy_shipped(ctx)
    for key in ("A", "B"):
        intake(ctx, key)
    done = intake(ctx, "DONE")
    completion.complete(ctx, ALICE, done.open_tasks[0].id, {"decision": "reject", "comment": "no"})
    flt = InstanceFilter(process="project-intake")
    p = bulk.plan(ctx, ADMIN, "cancel", flt)
    assert (p.picked, p.matched, p.applicable, len(p.targets)) == (False, 3, 2, 2)
    result = bulk.run(ctx, ADMIN, "cancel", flt, "cleanup")
    assert (result.matched, result.not_applicable, result.succeeded, result.left) == (3, 1, 2, 0)
    with pytest.raises(InvalidInput, match="version"):
        bulk.plan(ctx, ADMIN, "migrate", flt)
    other = bulk.plan(ctx, ADMIN, "migrate", flt, [bulk.Picked(done.id)], version=2)
    assert other.targets[0].why_not == "it is completed; only running or failed instances move"
