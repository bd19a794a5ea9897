"""One engine step: load the instance (locked), act, save state + task rows + events.

Every change to a running instance goes through `run_step` inside a unit of work, so a
step either commits whole or leaves the database as it was. Human-task rows mirror the
workflow's ready manual tasks after every step, cancelled branches included; so do external-task
rows (engine/runtime/external_mirror.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core import outcomes
from engine.core.context import EngineContext
from engine.core.errors import Conflict, IncidentError
from engine.db.models import HumanTask, Job, ProcessDefinition, ProcessInstance, new_uuid
from engine.db.statements import OpenRows, completed_task_data, insert_loaded, update_loaded
from engine.events import stream as audit
from engine.runtime import connector_calls, external_mirror, health, jobs, warm
from engine.runtime.task_rows import sync_tasks
from engine.sla import deadlines as sla
from engine.spiff.runtime.budget import StepLimits
from engine.spiff.runtime.clock import clock_scope
from engine.spiff.runtime.incidents import StepFailed
from engine.spiff.runtime.run import Run
from engine.spiff.runtime.variables import jsonable, oversized

FINAL = ("completed", "cancelled")


SIGNAL_JOB = "signal.broadcast"  # a signal thrown by an instance, for the others (engine.runtime.signals)


CHAIN_BROADCASTS = 256  # broadcasts one chain of signals may cause in all (it may fan out)


@dataclass(frozen=True)
class SignalChain:
    """While a thrown signal is delivered: how many instances passed it on without waiting (`hops`), how
    many may (`limit`), and the chain it belongs to (`chain`: the first throw's job); signals thrown by
    the steps it causes are one hop further along the same chain."""

    hops: int
    limit: int
    chain: str


SIGNAL_CHAIN: ContextVar[SignalChain | None] = ContextVar("pmoflow_signal_chain", default=None)


log = logging.getLogger("pmoflow.steps")


DECISION_EVENT_KEYS = (
    "name",  # the business rule task's name
    "decision",
    "version",
    "decision_table",
    "hit_policy",
    "inputs",
    "outputs",
    "matched_rules",
    "required",
    "warnings",  # only when the evaluation had any (a call that could not work was null, ...)
)


def new_run(
    ctx: EngineContext, definition: ProcessDefinition, variables: dict[str, Any], started_by: str | None = None
) -> Run:
    """A new workflow; a start event's `camunda:initiator` variable gets `started_by`."""
    bundle = ctx.specs.get(definition.id, lambda: definition.spec)  # the spec is read only on a miss
    assert ctx.script_engine is not None
    initiator = getattr(bundle[0], "pmoflow", {}).get("initiator")
    if initiator and started_by:
        variables = {**variables, initiator: started_by}
    return Run.start(bundle, variables, ctx.script_engine, ctx.limits)


def loaded_run(ctx: EngineContext, instance: ProcessInstance) -> Run:
    """The instance's workflow restored from its row, outside a step (a step uses `warm.load`)."""
    bundle = ctx.specs.get(instance.definition_id, lambda: instance.definition.spec)
    assert ctx.script_engine is not None
    return Run.load(instance.state, bundle, ctx.script_engine, ctx.limits)


def run_step(
    ctx: EngineContext,
    session: Session,
    instance: ProcessInstance,
    action: Callable[[Run], Any],
    actor: str | None,
    completed_task: HumanTask | None = None,
    new: bool = False,
    known: OpenRows | None = None,
) -> Run:
    """Act on the instance's workflow and save everything the step changed (not committed).

    `known` (the instance's open rows, read under its lock) saves a query; it is updated in place."""
    with health.step_running(instance.uuid, ctx.limits.max_seconds):  # seen by /healthz while it runs
        return _step(ctx, session, instance, action, actor, completed_task, new, known)


def _step(
    ctx: EngineContext,
    session: Session,
    instance: ProcessInstance,
    action: Callable[[Run], Any],
    actor: str | None,
    completed_task: HumanTask | None,
    new: bool,
    known: OpenRows | None,
) -> Run:
    now = ctx.clock.now()
    definition_id = instance.definition_id
    with clock_scope(ctx.clock.now):
        run = (
            new_run(ctx, instance.definition, instance.variables, instance.started_by)
            if new
            else warm.load(ctx, instance)  # the workflow this process kept at this revision, or restored
        )
        run.business_due = sla.business_due(session, ctx.settings.default_timezone)  # timers on business time
        try:
            action(run)
        except StepFailed as err:
            raise IncidentError(f"the step failed and was not applied: {err}") from err
        before = instance.status
        save_run(session, instance, run, now, ctx.limits)
        warm.keep(ctx, session, instance, run, definition_id)  # for the next step, once this one commits
    _write_step_events(session, instance, run, now, actor, before, new)
    open_tasks, calls, external = run.ready_work()
    sync_tasks(
        session,
        instance,
        open_tasks,
        now,
        completed_task,
        ctx.settings.script_time_limit,
        known,
        ctx.settings.default_group,
    )
    connector_calls.enqueue_calls(ctx, session, instance, calls, now)
    if run.has_external_tasks:  # no query for definitions without external tasks
        external_mirror.sync(session, instance, external, now, ctx.settings.script_time_limit)
    session.flush()
    return run


def _check_fits(limits: StepLimits, run: Run, live: dict[str, Any]) -> None:
    """Refuse a step whose variables could not be saved and loaded again (scripts are checked as they run, in
    engine.spiff.runtime.budget; this catches the rest: output mappings, decisions, connector results)."""
    problem = oversized(live, limits.max_variable_depth, limits.max_variable_bytes)
    if problem is not None:
        done = [entry["element_id"] for entry in run.log.completed if entry.get("element_id")]
        where = f" after {done[-1]!r}" if done else ""
        raise IncidentError(
            f"the step was not applied: variable {problem[0]!r}{where} {problem[1]}",
            {"fields": {f"variables.{problem[0]}": problem[1]}, "element_id": done[-1] if done else None},
        )


def save_run(
    session: Session, instance: ProcessInstance, run: Run, now: datetime, limits: StepLimits | None = None
) -> None:
    """Copy the run's state onto the instance row.

    A new instance (not in the session yet) is inserted, a stored one updated, at once by one Core
    statement (a fraction of the cost of an ORM flush); the object takes the values as its loaded
    state, so later changes in the step are flushed on top of them as usual."""
    status = run.status
    live = run.live_variables()
    _check_fits(limits or StepLimits(), run, live)  # before anything is written
    values: dict[str, Any] = {
        "state": run.dump(),
        "status": status,
        "variables": jsonable(live),
        "next_due_at": run.next_due() if status == "running" else None,
        "error": run.incident.as_dict() if run.incident else (instance.error if status == "error" else None),
        "updated_at": now,
    }
    if status in FINAL and instance.ended_at is None:
        values["ended_at"] = now
    if status != "running" or instance.outcome is not None:
        values["outcome"] = outcome_of_run(session, instance, run, status, live)
    if instance.id is None:
        for key, value in values.items():
            setattr(instance, key, value)
        insert_loaded(session, instance)
        return
    update_loaded(session, instance, **values)


def outcome_of_run(
    session: Session, instance: ProcessInstance, run: Run, status: str, variables: dict[str, Any]
) -> str | None:
    """The instance's outcome after this step (engine.core.outcomes): from the end events it reached, its
    variables and, only if those say nothing, the decisions of its completed tasks (one query)."""
    ends = [
        outcomes.EndReached(e["element_id"], e.get("name"), e["end"].get("outcome"), e["end"].get("kind"))
        for e in run.log.completed
        if e.get("end") is not None
    ]

    def decisions() -> list[Any]:
        if instance.id is None:
            return []
        return [outcomes.decision_in(data) for data in completed_task_data(session, instance.id, DECIDING_TASKS)]

    uncaught = run.incident is not None and run.incident.kind == "UncaughtError"  # an error end event, caught nowhere
    return outcomes.outcome_of(status, ends, variables, decisions, failed_at_end=uncaught)


DECIDING_TASKS = 50  # the newest completed tasks searched for the decision that ended an instance


def _write_step_events(
    session: Session,
    instance: ProcessInstance,
    run: Run,
    now: datetime,
    actor: str | None,
    before: str,
    new: bool,
) -> None:
    for entry in run.log.completed:
        audit.record(
            session,
            "element_completed",
            now,
            instance=instance,
            actor=actor,
            task_uuid=entry["task_id"],
            element_id=entry["element_id"],
            data={"name": entry["name"], "type": entry["type"], "process": entry["process"]},
        )
    for decision in run.log.decisions:
        audit.record(
            session,
            "decision_evaluated",
            now,
            instance=instance,
            actor=actor,
            task_uuid=decision["task_id"],
            element_id=decision["element_id"],
            data={k: decision[k] for k in DECISION_EVENT_KEYS if k in decision},
        )
    for timer in run.log.timers:
        audit.record(
            session,
            "timer_fired",
            now,
            instance=instance,
            actor=actor,
            task_uuid=timer["task_id"],
            element_id=timer["element_id"],
            data={k: v for k, v in timer.items() if k != "task_id"},
        )
        if timer.get("attached_to"):
            sla.timer_fired(session, instance, timer, now, actor)  # a reminder or an SLA breach
    _write_signals(session, instance, run, now, actor)
    run.log.completed.clear()
    run.log.decisions.clear()
    run.log.timers.clear()
    if run.incident is not None:
        audit.record(
            session,
            "incident_raised",
            now,
            instance=instance,
            actor=actor,
            task_uuid=run.incident.task_id,
            element_id=run.incident.element_id,
            data=run.incident.as_dict(),
        )
    if instance.status != before or new:
        if instance.status == "completed":
            audit.record(
                session,
                "instance_completed",
                now,
                instance=instance,
                actor=actor,
                data={"variables": instance.variables, "outcome": instance.outcome},
            )


def _write_signals(session: Session, instance: ProcessInstance, run: Run, now: datetime, actor: str | None) -> None:
    """Signals the step threw: recorded, and broadcast to the other instances by a job after the commit.
    A step caused by a thrown signal passes its signals on one hop further; past the chain's limit
    (instances signalling one another without ever waiting) they are recorded as dropped instead."""
    chain = SIGNAL_CHAIN.get()
    hops = (chain.hops if chain is not None else 0) + 1
    chain_id = chain.chain if chain is not None else new_uuid()
    for entry in run.log.signals:
        audit.record(
            session,
            "signal_thrown",
            now,
            instance=instance,
            actor=actor,
            element_id=entry["element_id"],
            data={"signal": entry["signal"]},
        )
        if chain is not None and (hops > chain.limit or _broadcasts(session, chain_id) >= CHAIN_BROADCASTS):
            log.warning(
                "instance %s: signal %r not passed on: instances signalled one another without waiting (%d hops)",
                instance.uuid,
                entry["signal"],
                hops,
            )
            audit.record(
                session,
                "signal_dropped",
                now,
                instance=instance,
                actor=actor,
                element_id=entry["element_id"],
                data={"signal": entry["signal"], "hops": hops, "limit": chain.limit},
            )
            continue
        jobs.enqueue(
            session,
            SIGNAL_JOB,
            {"signal": entry["signal"], "source": instance.uuid, "hops": hops, "chain": chain_id},
            now,
            instance=instance,
        )
    run.log.signals.clear()


def _broadcasts(session: Session, chain: str) -> int:
    """How many broadcasts the chain of signals has caused so far (asked only along a chain)."""
    session.flush()
    return int(
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == SIGNAL_JOB, Job.payload["chain"].as_string() == chain)
        )
        or 0
    )


def ensure_running(instance: ProcessInstance) -> None:
    """Raise Conflict unless the instance can take a step."""
    if instance.status != "running":
        raise Conflict(f"process instance {instance.uuid} is {instance.status}")
