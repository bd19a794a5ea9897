"""The warm workflow cache (engine.runtime.warm): a step reuses the workflow its process kept only at the
revision in the locked row, a kept workflow is exactly what a restore gives, and a step that fails keeps
nothing. Every test runs on SQLite and PostgreSQL; the suite's `workflow_cache_check` also compares every
hit with a fresh restore."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import select, update

from engine import bootstrap
from engine.core.errors import Conflict
from engine.db import statements
from engine.db.models import ProcessInstance
from engine.definitions import deployments
from engine.runtime import instances, steps
from engine.spiff.model.parsing import SourceFile
from engine.spiff.model.specs import load_state
from engine.spiff.model.warm import fingerprint, settle
from engine.spiff.runtime import events as event_runtime
from engine.tasks import completion
from tests.bpmn_samples import lane, linear, script_task, user_task
from tests.engine.runtime.test_optimistic_lock import PARALLEL, open_tasks
from tests.factories import ADMIN, ALICE, BOT

# A script leaves values a JSON round trip changes: tuples, one list under two names. (A datetime or a set
# cannot be saved at all: SpiffWorkflow writes task data unconverted.)
ODD_VALUES = 'pair = (1, 2)\nnested = {"k": (3, [4])}\nshared = [1]\nalso = shared'
SCRIPTED = linear(
    (script_task("odd", ODD_VALUES), "odd"),
    (user_task("a", "First"), "a"),
    (user_task("b", "Second"), "b"),
    lanes=(lane("IT Manager", "a", "b"),),
)


def figures(ctx):
    return ctx.workflows.figures()


@dataclass(frozen=True)
class Saved:
    id: int
    revision: int
    definition_id: int
    state: str


def row(ctx, instance_id: str) -> Saved:
    with ctx.uow(write=False) as uow:
        found = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).one()
        return Saved(found.id, found.revision, found.definition_id, found.state)


def test_the_next_step_reuses_the_workflow_its_process_kept(ctx):
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    assert (figures(ctx).size, figures(ctx).hits, figures(ctx).misses) == (1, 0, 0)
    tasks = open_tasks(ctx, start.id)
    completion.complete(ctx, ALICE, tasks["a"], {"note": "x"})
    assert (figures(ctx).hits, figures(ctx).misses) == (1, 0)
    completion.complete(ctx, ALICE, tasks["b"], {})
    assert (figures(ctx).hits, figures(ctx).misses) == (2, 0)
    assert instances.get(ctx, ADMIN, start.id).status == "completed"
    assert figures(ctx).size == 0  # an ended instance is not kept


def test_a_step_in_another_process_makes_the_kept_workflow_a_miss(ctx, settings, clock):
    other = bootstrap.context(settings, clock=clock)  # another process (or host): its own cache
    try:
        deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
        start = instances.start(ctx, BOT, "p1")  # kept here at the start's revision
        tasks = open_tasks(ctx, start.id)
        completion.complete(other, ALICE, tasks["a"], {"by": "other"})
        assert (figures(other).hits, figures(other).misses) == (0, 1)
        completion.complete(ctx, ALICE, tasks["b"], {})  # the row is a revision ahead of what this process kept
        assert (figures(ctx).hits, figures(ctx).misses) == (0, 1)
        view = instances.get(ctx, ADMIN, start.id)
        assert view.status == "completed" and view.variables["by"] == "other"  # the other step is not lost
    finally:
        other.db.dispose()


def test_a_revision_changed_behind_the_cache_is_a_miss(ctx):
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    tasks = open_tasks(ctx, start.id)
    with ctx.uow() as uow:
        rows = statements._INSTANCES
        uow.session.execute(update(rows).where(rows.c.uuid == start.id).values(revision=rows.c.revision + 1))
        uow.commit()
    completion.complete(ctx, ALICE, tasks["a"], {})
    assert (figures(ctx).hits, figures(ctx).misses) == (0, 1)
    assert figures(ctx).size == 1  # kept again, at the new revision
    completion.complete(ctx, ALICE, tasks["b"], {})
    assert figures(ctx).hits == 1


def test_the_least_recently_used_workflow_goes_first(ctx, settings, clock):
    small = bootstrap.context(replace(settings, workflow_cache_size=2), clock=clock)
    try:
        deployments.deploy(small, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
        first, second, third = (instances.start(small, BOT, "p1") for _ in range(3))
        assert (figures(small).size, figures(small).evictions) == (2, 1)
        completion.complete(small, ALICE, open_tasks(small, third.id)["a"], {})
        completion.complete(small, ALICE, open_tasks(small, second.id)["a"], {})
        assert (figures(small).hits, figures(small).misses) == (2, 0)
        completion.complete(small, ALICE, open_tasks(small, first.id)["a"], {})  # evicted when the third started
        assert (figures(small).hits, figures(small).misses) == (2, 1)
    finally:
        small.db.dispose()


def test_a_cache_of_size_zero_keeps_nothing(ctx, settings, clock):
    off = bootstrap.context(replace(settings, workflow_cache_size=0), clock=clock)
    try:
        deployments.deploy(off, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
        start = instances.start(off, BOT, "p1")
        completion.complete(off, ALICE, open_tasks(off, start.id)["a"], {})
        assert figures(off) == replace(figures(off), size=0, hits=0, evictions=0)
        assert instances.get(off, ADMIN, start.id).status == "running"
    finally:
        off.db.dispose()


def test_a_step_that_fails_after_changing_the_workflow_keeps_nothing(ctx, monkeypatch):
    """The step completed `a` in its workflow object, then failed: the object must not serve the next step."""
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    tasks = open_tasks(ctx, start.id)

    def fails(*args, **kwargs):
        raise Conflict("failed after the save")

    monkeypatch.setattr(steps, "sync_tasks", fails)
    with pytest.raises(Conflict):
        completion.complete(ctx, ALICE, tasks["a"], {"seen": True})
    monkeypatch.undo()
    assert figures(ctx).size == 0  # taken by the failed step, never put back
    completion.complete(ctx, ALICE, tasks["a"], {})  # restored from the row: `a` is still open there
    assert (figures(ctx).hits, figures(ctx).misses) == (1, 1)
    assert "seen" not in instances.get(ctx, ADMIN, start.id).variables
    completion.complete(ctx, ALICE, tasks["b"], {})
    assert instances.get(ctx, ADMIN, start.id).status == "completed"


def test_a_stale_save_keeps_nothing(ctx, monkeypatch):
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    tasks = open_tasks(ctx, start.id)
    real_save = steps.save_run

    def someone_saved_meanwhile(session, instance, *args, **kwargs):
        rows = statements._INSTANCES
        session.connection().execute(update(rows).where(rows.c.id == instance.id).values(revision=rows.c.revision + 1))
        return real_save(session, instance, *args, **kwargs)

    monkeypatch.setattr(steps, "save_run", someone_saved_meanwhile)
    with pytest.raises(Conflict):
        completion.complete(ctx, ALICE, tasks["a"], {})
    monkeypatch.undo()
    assert figures(ctx).size == 0
    completion.complete(ctx, ALICE, tasks["a"], {})
    assert figures(ctx).misses == 1


def test_a_kept_workflow_holds_what_a_restore_gives(ctx):
    """A script's tuples and shared list: the kept workflow holds lists and separate objects, as
    a restore of the saved JSON does, and the suite's check compares the hit with a fresh restore."""
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", SCRIPTED.encode())])
    start = instances.start(ctx, BOT, "p1")
    saved = row(ctx, start.id)
    kept = ctx.workflows.take(saved.id, saved.revision, saved.definition_id)
    assert kept is not None
    bundle = ctx.specs.get(saved.definition_id, "")
    assert fingerprint(kept) == fingerprint(load_state(saved.state, bundle))
    ready = next(t for t in kept.get_tasks() if t.task_spec.name == "a").data
    assert type(ready["pair"]) is list and type(ready["nested"]["k"]) is list
    assert ready["shared"] == ready["also"] and ready["shared"] is not ready["also"]
    ctx.workflows.put(saved.id, saved.revision, saved.definition_id, kept)
    completion.complete(ctx, ALICE, start.open_tasks[0].id, {})
    assert figures(ctx).hits == 2  # the check compared it with a restore and found no difference


def test_settle_is_what_makes_a_kept_workflow_equal_to_a_restored_one(ctx):
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", SCRIPTED.encode())])
    start = instances.start(ctx, BOT, "p1")
    saved = row(ctx, start.id)
    bundle = ctx.specs.get(saved.definition_id, "")
    assert ctx.script_engine is not None
    run = steps.Run.start(bundle, {}, ctx.script_engine)
    run.advance()
    state = run.dump()
    restored = load_state(state, bundle)
    assert fingerprint(run.wf) != fingerprint(restored)  # the live workflow holds a tuple and shared lists
    settle(run.wf, state)
    assert fingerprint(run.wf) == fingerprint(restored)


def test_a_kept_workflow_observes_signals_for_its_new_run_only(ctx):
    """Each run wraps the workflow's `catch` to note thrown signals; a reused workflow must not keep noting
    them for the run before (nor wrap one wrapper in another at every step)."""
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", PARALLEL.encode())])
    start = instances.start(ctx, BOT, "p1")
    saved = row(ctx, start.id)
    workflow = ctx.workflows.take(saved.id, saved.revision, saved.definition_id)
    earlier: list[dict[str, str]] = []
    now: list[dict[str, str]] = []
    event_runtime.observe(workflow, earlier)
    event_runtime.observe(workflow, now)
    workflow.catch(BpmnEvent(SignalEventDefinition("go")))
    assert earlier == [] and [s["signal"] for s in now] == ["go"]
