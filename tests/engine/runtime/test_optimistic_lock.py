"""The instance row's `revision`: every step saves over the revision it loaded and takes the next one, so a
step that lost a race changes nothing and is a Conflict (409), even where no row lock serialized it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from engine.core.errors import Conflict
from engine.db import statements
from engine.db.models import Event, HumanTask, ProcessInstance
from engine.definitions import deployments
from engine.runtime import instances, steps
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from tests.bpmn_samples import document, flow, lane, one_approval, process, user_task
from tests.factories import ADMIN, ALICE, BOT

# start -> fork -> (a, b) -> join -> end: two tasks of one instance that can be completed at the same time.
PARALLEL = document(
    process(
        '<bpmn:startEvent id="start"/>'
        '<bpmn:parallelGateway id="fork"/>'
        + user_task("a", "Check scope")
        + user_task("b", "Check budget")
        + '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>'
        + flow("f0", "start", "fork")
        + flow("f1", "fork", "a")
        + flow("f2", "fork", "b")
        + flow("f3", "a", "join")
        + flow("f4", "b", "join")
        + flow("f5", "join", "end"),
        lane("IT Manager", "a", "b"),
    )
)


def revision(ctx, instance_id: str) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalars(select(ProcessInstance.revision).where(ProcessInstance.uuid == instance_id)).one()


def open_tasks(ctx, instance_id: str) -> dict[str, str]:
    return {t.element_id: t.id for t in instances.get(ctx, ADMIN, instance_id).open_tasks}


def test_every_step_takes_the_next_revision(ctx):
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    first = revision(ctx, start.id)
    tasks = open_tasks(ctx, start.id)
    completion.complete(ctx, ALICE, tasks["a"], {})
    assert revision(ctx, start.id) == first + 1
    completion.complete(ctx, ALICE, tasks["b"], {})
    assert revision(ctx, start.id) == first + 2
    assert instances.get(ctx, ADMIN, start.id).status == "completed"


def test_a_step_over_a_stale_revision_is_a_conflict_and_changes_nothing(ctx, monkeypatch):
    """Another step commits between this step's read and its save (as if no row lock had held it back)."""
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", one_approval().encode())])
    start = instances.start(ctx, BOT, "p1")
    before = revision(ctx, start.id)
    real_save = steps.save_run

    def someone_saved_meanwhile(session, instance, *args, **kwargs):
        rows = statements._INSTANCES  # Core: the loaded object keeps the revision it read
        session.connection().execute(update(rows).where(rows.c.id == instance.id).values(revision=rows.c.revision + 1))
        return real_save(session, instance, *args, **kwargs)

    monkeypatch.setattr(steps, "save_run", someone_saved_meanwhile)
    with pytest.raises(Conflict):
        completion.complete(ctx, ALICE, start.open_tasks[0].id, {})
    monkeypatch.undo()
    assert revision(ctx, start.id) == before  # the whole step was rolled back, the bump with it
    with ctx.uow(write=False) as uow:
        assert uow.session.scalars(select(HumanTask.status)).one() == "open"
        assert uow.session.scalar(select(func.count()).select_from(Event).where(Event.type == "task_completed")) == 0
    completion.complete(ctx, ALICE, start.open_tasks[0].id, {})  # a retry succeeds
    assert instances.get(ctx, ADMIN, start.id).status == "completed"


def test_two_steps_racing_without_the_row_lock_give_one_success_and_one_conflict(ctx, monkeypatch):
    if ctx.db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second step reads only after the first has committed")
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    tasks = open_tasks(ctx, start.id)
    before = revision(ctx, start.id)
    # Skip the row lock: both steps read the same revision of the instance before either saves.
    monkeypatch.setattr(
        statements, "_LOCK_OWNER", select(statements._INSTANCES).where(statements._INSTANCES.c.id == statements._OWNER)
    )
    both_loaded = threading.Barrier(2, timeout=30)
    real_save = steps.save_run

    def save_after_both_loaded(*args, **kwargs):
        both_loaded.wait()
        return real_save(*args, **kwargs)

    monkeypatch.setattr(steps, "save_run", save_after_both_loaded)
    outcomes: list[str] = []

    def complete(task_id: str) -> None:
        try:
            completion.complete(ctx, ALICE, task_id, {})
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=complete, args=(tasks[k],)) for k in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert revision(ctx, start.id) == before + 1
    view = instances.get(ctx, ADMIN, start.id)
    assert view.status == "running" and len(view.open_tasks) == 1  # the loser's task is still open, nothing lost
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {})
    assert instances.get(ctx, ADMIN, start.id).status == "completed"
