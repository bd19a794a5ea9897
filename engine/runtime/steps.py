"""One engine step: load the instance (locked), act, save state + task rows + events.

Every change to a running instance goes through `run_step` inside a unit of work, so a
step either commits whole or leaves the database as it was. Human-task rows mirror the
workflow's ready manual tasks after every step, cancelled branches included; so do external-task
rows (engine/runtime/external_mirror.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.core.context import EngineContext
from engine.core.errors import Conflict, IncidentError, NotFound
from engine.db.models import HumanTask, Job, ProcessDefinition, ProcessInstance, new_uuid
from engine.events import stream as audit
from engine.integration import connectors
from engine.notify import bell as notifications
from engine.notify.bell import notify
from engine.runtime import external_mirror, health, jobs
from engine.sla import deadlines as sla
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.runtime.clock import clock_scope
from engine.spiff.runtime.incidents import StepFailed
from engine.spiff.runtime.run import OpenTask, Run
from engine.tasks.approvals import NoApprovers, resolve_approvers
from engine.tasks.candidates import Offer, offer_for
from engine.tasks.substitutes import effective_assignee

FINAL = ("completed", "cancelled")
SIGNAL_JOB = "signal.broadcast"         # a signal thrown by an instance, for the others (engine.runtime.signals)


CHAIN_BROADCASTS = 256                  # broadcasts one chain of signals may cause in all (it may fan out)


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
DECISION_EVENT_KEYS = ("decision", "version", "decision_table", "hit_policy", "inputs", "outputs", "matched_rules",
                       "required")


def load_instance(session: Session, instance_id: str, lock: bool = False) -> ProcessInstance:
    """The instance with this public id, row-locked on PostgreSQL if `lock`; raises NotFound."""
    query = select(ProcessInstance).where(ProcessInstance.uuid == instance_id)
    if lock:
        query = query.with_for_update(of=ProcessInstance).execution_options(populate_existing=True)
    row = session.scalars(query.options(joinedload(ProcessInstance.definition))).first()
    if row is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return row


def open_rows(session: Session, instance: ProcessInstance) -> list[HumanTask]:
    return list(session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
        .order_by(HumanTask.id)
    ))


@dataclass
class OpenRows:
    """An instance's open task rows, read once while the instance is locked (or known to be none,
    for a new instance). Handed to `run_step`, it spares `sync_tasks` its query, and afterwards
    `rows` holds the open rows after the step (oldest first) without another query."""

    rows: list[HumanTask]


# The two reads of a completion, built once (building a statement costs more than binding values),
# as Core statements whose rows become session objects by `as_loaded` (cheaper than ORM loading).
_INSTANCES = ProcessInstance.__table__
_TASKS = HumanTask.__table__
_OWNER = select(_TASKS.c.instance_id).where(_TASKS.c.uuid == bindparam("task")).scalar_subquery()
_LOCK_OWNER = select(_INSTANCES).where(_INSTANCES.c.id == _OWNER).with_for_update()
_OPEN_AND_TASK = select(_TASKS).where(
    _TASKS.c.instance_id == bindparam("instance"), or_(_TASKS.c.status == "open", _TASKS.c.uuid == bindparam("task"))
).order_by(_TASKS.c.id)

Loaded = TypeVar("Loaded", ProcessInstance, HumanTask)


def as_loaded(session: Session, model: type[Loaded], values: Mapping[str, Any]) -> Loaded:
    """The session's object for a row read by a Core statement (every column of `model`), as if the
    ORM had loaded it: a new persistent object, or the one the session holds with its columns
    refreshed (what `populate_existing` does)."""
    key = session.identity_key(model, (values["id"],))
    held = session.identity_map.get(key)
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)
        return held  # type: ignore[return-value]
    obj = model(**values)
    make_transient_to_detached(obj)             # every column set: nothing is read back
    session.add(obj)
    return obj


def lock_task_instance(ctx: EngineContext, session: Session, task_id: str) -> tuple[ProcessInstance, HumanTask,
                                                                                      OpenRows]:
    """The instance of a task, row-locked, with the task and the instance's open task rows, in two
    queries (the definition comes from `ctx.definitions`); raises NotFound."""
    connection = session.connection()
    found = connection.execute(_LOCK_OWNER, {"task": task_id}).mappings().first()
    if found is None:
        raise NotFound(f"task {task_id} does not exist")
    instance = as_loaded(session, ProcessInstance, found)
    ctx.definitions.attach(session, instance)
    rows = [as_loaded(session, HumanTask, r) for r in
            connection.execute(_OPEN_AND_TASK, {"instance": instance.id, "task": task_id}).mappings()]
    task = next((r for r in rows if r.uuid == task_id), None)
    if task is None:                                    # removed since the first query
        raise NotFound(f"task {task_id} does not exist")
    return instance, task, OpenRows([r for r in rows if r.status == "open"])


def new_run(ctx: EngineContext, definition: ProcessDefinition, variables: dict[str, Any],
            started_by: str | None = None) -> Run:
    """A new workflow; a start event's `camunda:initiator` variable gets `started_by`."""
    bundle = ctx.specs.get(definition.id, lambda: definition.spec)     # the spec is read only on a miss
    assert ctx.script_engine is not None
    initiator = getattr(bundle[0], "pmoflow", {}).get("initiator")
    if initiator and started_by:
        variables = {**variables, initiator: started_by}
    return Run.start(bundle, variables, ctx.script_engine, ctx.limits)


def loaded_run(ctx: EngineContext, instance: ProcessInstance) -> Run:
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
    with health.step_running(instance.uuid, ctx.limits.max_seconds):      # seen by /healthz while it runs
        return _step(ctx, session, instance, action, actor, completed_task, new, known)


def _step(
    ctx: EngineContext, session: Session, instance: ProcessInstance, action: Callable[[Run], Any], actor: str | None,
    completed_task: HumanTask | None, new: bool, known: OpenRows | None,
) -> Run:
    now = ctx.clock.now()
    with clock_scope(ctx.clock.now):
        run = new_run(ctx, instance.definition, instance.variables, instance.started_by) if new else \
            loaded_run(ctx, instance)
        run.business_due = sla.business_due(session, ctx.settings.default_timezone)   # timers on business time
        try:
            action(run)
        except StepFailed as err:
            raise IncidentError(f"the step failed and was not applied: {err}") from err
        before = instance.status
        save_run(session, instance, run, now)
    _write_step_events(session, instance, run, now, actor, before, new)
    open_tasks, calls, external = run.ready_work()
    sync_tasks(session, instance, open_tasks, now, completed_task, ctx.settings.script_time_limit, known,
               ctx.settings.default_group)
    connectors.enqueue_calls(ctx, session, instance, calls, now)
    if run.has_external_tasks:                  # no query for definitions without external tasks
        external_mirror.sync(session, instance, external, now, ctx.settings.script_time_limit)
    session.flush()
    return run


def save_run(session: Session, instance: ProcessInstance, run: Run, now: datetime) -> None:
    """Copy the run's state onto the instance row.

    A new instance (not in the session yet) is inserted, a stored one updated, at once by one Core
    statement (a fraction of the cost of an ORM flush); the object takes the values as its loaded
    state, so later changes in the step are flushed on top of them as usual."""
    status = run.status
    values: dict[str, Any] = {
        "state": run.dump(), "status": status, "variables": run.variables(),
        "next_due_at": run.next_due() if status == "running" else None,
        "error": run.incident.as_dict() if run.incident else (instance.error if status == "error" else None),
        "updated_at": now,
    }
    if status in FINAL and instance.ended_at is None:
        values["ended_at"] = now
    if instance.id is None:
        for key, value in values.items():
            setattr(instance, key, value)
        insert_loaded(session, instance)
        return
    update_loaded(session, instance, **values)


def _write_step_events(
    session: Session, instance: ProcessInstance, run: Run, now: datetime, actor: str | None, before: str,
    new: bool,
) -> None:
    for entry in run.log.completed:
        audit.record(session, "element_completed", now, instance=instance, actor=actor,
                     task_uuid=entry["task_id"], element_id=entry["element_id"],
                     data={"name": entry["name"], "type": entry["type"], "process": entry["process"]})
    for decision in run.log.decisions:
        audit.record(session, "decision_evaluated", now, instance=instance, actor=actor,
                     task_uuid=decision["task_id"], element_id=decision["element_id"],
                     data={k: decision[k] for k in DECISION_EVENT_KEYS if k in decision})
    for timer in run.log.timers:
        audit.record(session, "timer_fired", now, instance=instance, actor=actor, task_uuid=timer["task_id"],
                     element_id=timer["element_id"], data={k: v for k, v in timer.items() if k != "task_id"})
        if timer.get("attached_to"):
            sla.timer_fired(session, instance, timer, now, actor)       # a reminder or an SLA breach
    _write_signals(session, instance, run, now, actor)
    run.log.completed.clear()
    run.log.decisions.clear()
    run.log.timers.clear()
    if run.incident is not None:
        audit.record(session, "incident_raised", now, instance=instance, actor=actor,
                     task_uuid=run.incident.task_id, element_id=run.incident.element_id,
                     data=run.incident.as_dict())
    if instance.status != before or new:
        if instance.status == "completed":
            audit.record(session, "instance_completed", now, instance=instance, actor=actor,
                         data={"variables": instance.variables})
            notifications.request_decided(session, instance, actor, now)


def _write_signals(session: Session, instance: ProcessInstance, run: Run, now: datetime, actor: str | None) -> None:
    """Signals the step threw: recorded, and broadcast to the other instances by a job after the commit.
    A step caused by a thrown signal passes its signals on one hop further; past the chain's limit
    (instances signalling one another without ever waiting) they are recorded as dropped instead."""
    chain = SIGNAL_CHAIN.get()
    hops = (chain.hops if chain is not None else 0) + 1
    chain_id = chain.chain if chain is not None else new_uuid()
    for entry in run.log.signals:
        audit.record(session, "signal_thrown", now, instance=instance, actor=actor, element_id=entry["element_id"],
                     data={"signal": entry["signal"]})
        if chain is not None and (hops > chain.limit or _broadcasts(session, chain_id) >= CHAIN_BROADCASTS):
            log.warning("instance %s: signal %r not passed on: instances signalled one another without waiting "
                        "(%d hops)", instance.uuid, entry["signal"], hops)
            audit.record(session, "signal_dropped", now, instance=instance, actor=actor,
                         element_id=entry["element_id"], data={"signal": entry["signal"], "hops": hops,
                                                               "limit": chain.limit})
            continue
        jobs.enqueue(session, SIGNAL_JOB, {"signal": entry["signal"], "source": instance.uuid, "hops": hops,
                                           "chain": chain_id}, now, instance=instance)
    run.log.signals.clear()


def _broadcasts(session: Session, chain: str) -> int:
    """How many broadcasts the chain of signals has caused so far (asked only along a chain)."""
    session.flush()
    return int(session.scalar(select(func.count()).select_from(Job).where(
        Job.kind == SIGNAL_JOB, Job.payload["chain"].as_string() == chain)) or 0)


def sync_tasks(
    session: Session, instance: ProcessInstance, open_tasks: list[OpenTask], now: datetime,
    completed: HumanTask | None = None, time_limit: float = 3.0, known: OpenRows | None = None,
    default_group: str = "PMO Office",
) -> list[HumanTask]:
    """Make the instance's open task rows match the workflow's ready human tasks; returns the open rows.

    A plain user task is one row with the workflow task's id; an approval-pattern task is a
    batch of personal rows, one per approver, keyed by `approval_batch`. `known` replaces the
    query for the current open rows and is brought up to date. Whom a new task is offered to
    is engine.tasks.candidates' rule (`default_group`: the deployment's, for tasks that name nobody).
    """
    current = [r for r in known.rows if r.status == "open"] if known is not None else open_rows(session, instance)
    created: list[HumanTask] = []
    rows: dict[str, list[HumanTask]] = {}
    for row in current:
        rows.setdefault(row.approval_batch or row.uuid, []).append(row)
    wanted = {t.id: t for t in open_tasks}
    for key, group in rows.items():
        for row in group:
            if key in wanted:
                sla.refresh(row, wanted[key].due_at)
            elif completed is None or row.uuid != completed.uuid:
                _cancel_row(session, instance, row, now, _why_gone(instance))
    meta = {(t["process"], t["element_id"]): t for t in instance.definition.user_tasks}
    for uuid, task in wanted.items():
        if uuid in rows:
            continue
        info = meta.get((task.process, task.element_id), {})
        if info.get("approval"):
            created += _create_batch(session, instance, task, info, now, time_limit)
        else:
            offer = offer_for(session, info, info.get("lane") or task.lane, instance.definition.lane_map,
                              instance.variables, default_group=default_group, started_by=instance.started_by,
                              today=now.date(), time_limit=min(time_limit, 1.0))
            created.append(_create_row(session, instance, task, info, now, uuid=uuid, offer=offer))
    now_open = [r for r in current if r.status == "open"] + created
    if known is not None:
        known.rows = now_open
    return now_open


def _cancel_row(session: Session, instance: ProcessInstance, row: HumanTask, now: datetime, reason: str) -> None:
    row.status = "cancelled"
    row.completed_at = now
    audit.record(session, "task_cancelled", now, instance=instance, task_uuid=row.uuid,
                 element_id=row.element_id, data={"name": row.name, "reason": reason})


def _create_row(
    session: Session, instance: ProcessInstance, task: OpenTask, info: dict[str, Any], now: datetime, uuid: str,
    offer: Offer, batch: str | None = None,
) -> HumanTask:
    role = info.get("lane") or task.lane
    groups, assignee = offer.groups, offer.assignee
    row = HumanTask(
        uuid=uuid, instance_id=instance.id, element_id=task.element_id, name=task.name, role=role,
        candidate_groups=groups, candidate_users=offer.users, group_source=offer.source, form_key=info.get("form"),
        status="open", created_at=now, due_at=task.due_at, assignee=assignee, approval_batch=batch,
        priority=task_priority(info.get("priority"), instance.variables),
    )
    with session.no_autoflush:          # before the INSERT: no second UPDATE of the row for its at-risk time
        sla.set_due(session, instance, row, info.get("sla"), now)     # the SLA property, the at-risk time
    insert_loaded(session, row)                 # its task_groups rows are written by a trigger
    audit.record(session, "task_created", now, instance=instance, task_uuid=uuid, element_id=task.element_id,
                 data={"name": task.name, "role": role, "candidate_groups": groups, "assignee": assignee,
                       "approval_batch": batch, "due_at": row.due_at.isoformat() if row.due_at else None,
                       **({"candidate_users": offer.users} if offer.users else {}),
                       **({"group_source": offer.source} if offer.source else {}),
                       **({"warnings": offer.warnings} if offer.warnings else {})})
    if assignee is not None and batch is None:        # assigned by the model: tell them (approvals do their own)
        title = instance.variables.get("title") or instance.business_key or instance.definition.name
        notify(session, assignee, "task_assigned", f"{task.name}: {title}" + (
            f" (for {offer.meant_for}, who is away)" if offer.meant_for else ""),
            link=f"/tasks/{uuid}", instance=instance, task_uuid=uuid, at=now)
    return row


_INSERTS = {t: insert(t).returning(t.c.id) for t in (_INSTANCES, _TASKS)}
_UPDATES = {t: update(t).where(t.c.id == bindparam("row_id")) for t in (_INSTANCES, _TASKS)}


def insert_loaded(session: Session, obj: ProcessInstance | HumanTask) -> None:
    """Insert a new object's row by one Core statement (a fraction of an ORM flush's cost) and put
    the object in the session as if it had been loaded: every column is written from the object
    (so set the ones with Python-side defaults first) and nothing is read back; later changes to
    it are flushed as usual."""
    table = type(obj).__table__
    values = {c.key: getattr(obj, c.key) for c in table.columns if c.key != "id"}
    obj.id = session.connection().execute(_INSERTS[table], values).scalar_one()
    for key, value in values.items():
        setattr(obj, key, value)
    make_transient_to_detached(obj)             # every column set: nothing is read back
    session.add(obj)


def update_loaded(session: Session, obj: ProcessInstance | HumanTask, **values: Any) -> None:
    """Change a stored row now by one Core UPDATE; the object takes the values as its loaded state
    (no flush writes them again), and later changes to it are flushed as usual. (A task row's
    `task_groups.offered` follows by trigger.)"""
    session.connection().execute(_UPDATES[type(obj).__table__], {"row_id": obj.id, **values})
    for key, value in values.items():
        set_committed_value(obj, key, value)


DEFAULT_PRIORITY = 50


def task_priority(expression: str | None, variables: dict[str, Any]) -> int:
    """A task's priority from 0 to 100 (50 without a setting, or when the expression fails)."""
    if not expression:
        return DEFAULT_PRIORITY
    try:
        value = SandboxedEnvironment(time_limit=1.0).evaluate(expression, dict(variables))
        return max(0, min(100, int(value)))
    except Exception:  # noqa: BLE001 - a bad priority must not stop the process; it gets the default
        log.warning("priority %r could not be evaluated; using %s", expression, DEFAULT_PRIORITY)
        return DEFAULT_PRIORITY


def _create_batch(
    session: Session, instance: ProcessInstance, task: OpenTask, info: dict[str, Any], now: datetime,
    time_limit: float,
) -> list[HumanTask]:
    """One personal row per approver (returned); an empty or failing approver list puts the instance in error."""
    if session.scalar(select(HumanTask.id).where(HumanTask.approval_batch == task.id).limit(1)) is not None:
        return []                                   # already fanned out (and decided): nothing new
    try:
        approvers = resolve_approvers(session, info["approval"], instance.variables, time_limit)
    except NoApprovers as err:
        instance.status = "error"
        instance.error = {"element_id": task.element_id, "task_id": task.id, "message": str(err),
                          "kind": "NoApprovers"}
        audit.record(session, "incident_raised", now, instance=instance, task_uuid=task.id,
                     element_id=task.element_id, data=instance.error)
        return []
    rows = []
    for approver in approvers:
        assignee = effective_assignee(session, approver, now.date())     # out of office: the substitute
        offer = Offer(list(info.get("candidate_groups") or []), assignee=assignee)
        row = _create_row(session, instance, task, info, now, uuid=new_uuid(), offer=offer, batch=task.id)
        title = instance.variables.get("title") or instance.business_key or instance.definition.name
        notify(session, assignee, "task_assigned", f"{task.name}: {title}" + (
            f" (for {approver}, who is away)" if assignee != approver else ""),
            link=f"/tasks/{row.uuid}", instance=instance, task_uuid=row.uuid, at=now)
        rows.append(row)
    return rows


def _why_gone(instance: ProcessInstance) -> str:
    if instance.status == "cancelled":
        return "instance cancelled"
    return "branch ended (boundary event, gateway or cancellation)"


def ensure_running(instance: ProcessInstance) -> None:
    """Raise Conflict unless the instance can take a step."""
    if instance.status != "running":
        raise Conflict(f"process instance {instance.uuid} is {instance.status}")
