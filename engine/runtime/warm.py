"""The warm workflow cache in a step: reuse the workflow this process saved, or restore it from the row.

Restoring a workflow from its saved state is a large part of a step's own work. Each process keeps
the workflows of the instances it stepped last (`EngineContext.workflows`, an LRU of
`workflow_cache_size` entries) and gives one to the next step of the same instance only when the
row that step has locked carries the revision the workflow was saved at. Every save of an
instance's state takes the next revision in the same statement (engine.db.statements), so an equal
revision means the very state this process saved: a step in another process or on another host in
between makes it a miss, never a stale hit. A step mutates its workflow in place, so:

- `load` takes the entry out of the cache: two steps never hold one object;
- `keep` puts it back only when the step's transaction commits; a step that fails, is refused or
  rolls back (also a savepoint) leaves nothing behind, and the next step restores from the row;
- the kept workflow is first given exactly the values a restore would give it
  (engine.spiff.model.warm.settle): tuples, sets and datetimes a script left, and shared objects,
  become what the saved JSON gives back.

With `workflow_cache_check` (the tests turn it on), every hit is compared with a fresh restore of
the row's state, values, types and shared objects included, and a difference raises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.db.models import ProcessInstance
from engine.spiff.model.specs import load_state
from engine.spiff.model.warm import fingerprint, settle
from engine.spiff.runtime.budget import StepBudget
from engine.spiff.runtime.run import Run

KEPT = "pmoflow_warm"  # session.info: instance id -> what to keep once the transaction commits


ENDED = ("completed", "cancelled")  # no further step: not worth keeping


def load(ctx: EngineContext, instance: ProcessInstance) -> Run:
    """The instance's workflow for a step: the one this process kept at the row's revision, else restored
    from the row's state. Raises AssertionError, with `workflow_cache_check`, for a kept workflow that
    differs from a restored one."""
    bundle = ctx.specs.get(instance.definition_id, lambda: instance.definition.spec)
    assert ctx.script_engine is not None
    kept = ctx.workflows.take(instance.id, instance.revision, instance.definition_id)
    if kept is not None and ctx.settings.workflow_cache_check:
        if fingerprint(kept) != fingerprint(load_state(instance.state, bundle)):
            raise AssertionError(f"the kept workflow of instance {instance.uuid} differs from its saved state")
    if kept is None:
        return Run.load(instance.state, bundle, ctx.script_engine, ctx.limits)
    return Run(kept, ctx.script_engine, StepBudget(ctx.limits))  # script engine, observers: set per run


def keep(ctx: EngineContext, session: Session, instance: ProcessInstance, run: Run, definition_id: int) -> None:
    """After a step saved `run` as the instance's state: keep its workflow for the next step once the
    transaction commits. Not kept: an ended instance, a step that moved it to another definition."""
    kept: dict[int, tuple[Any, ...]] = session.info.setdefault(KEPT, {})
    if ctx.workflows.capacity == 0 or instance.status in ENDED or instance.definition_id != definition_id:
        kept.pop(instance.id, None)  # an earlier step of this transaction is no longer the state either
        return
    settle(run.wf, instance.state)
    kept[instance.id] = (ctx.workflows, instance, instance.state, run.wf)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for cache, instance, state, workflow in session.info.pop(KEPT, {}).values():
        loaded = vars(instance)  # as the transaction left them: reading attributes here must not load anything
        if loaded.get("state") is state:  # nothing wrote another state after the step
            cache.put(loaded["id"], loaded["revision"], loaded["definition_id"], workflow)


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(KEPT, None)  # any rollback, a savepoint's too: the workflows may be ahead of the rows
