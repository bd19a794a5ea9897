"""External tasks: work that systems fetch, lock and finish (the Camunda 7 external task pattern).

A task with a topic (engine/spiff/extensions/external.py) waits in the workflow; after every step
`sync` mirrors the instance's ready external tasks into `external_tasks` rows (new ones
created with their evaluated parameters, rows of cancelled branches cancelled). A worker then

- `fetch_and_lock`s up to `max_tasks` open, unlocked tasks of its topics: each is locked for
  the worker for `lock_duration_ms` (claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, under
  SQLite's single writer otherwise, so no task is handed to two workers at once);
- `complete`s one (one engine step: its variables go into the process), reports a `failure`
  (retries left: fetchable again after the retry timeout; none left: an incident naming the
  element, resolved by an admin's retry), throws a `bpmn_error` at it (caught by an error
  boundary event or event sub-process; uncaught, an incident) or `extend_lock`s it.

Only the worker holding an unexpired lock may finish or extend it (Conflict otherwise).
The rows are written by engine/runtime/external_mirror.py, in every step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer, joinedload

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import ExternalTask, ProcessInstance
from engine.db.statements import load_instance
from engine.events import stream as audit
from engine.runtime.external_mirror import raise_incident
from engine.runtime.instances import check_variables
from engine.runtime.steps import run_step

MAX_TASKS = 100  # per fetch


MAX_TOPICS = 50  # per fetch


MAX_VARIABLE_NAMES = 100  # per topic


MAX_LOCK_MS = 24 * 3600 * 1000  # a worker needing longer extends its lock


MAX_RETRY_TIMEOUT_MS = 7 * 24 * 3600 * 1000


MAX_RETRIES = 100


MAX_MESSAGE = 4000


NAME_LIMIT = 120  # worker ids


TOPIC_LIMIT = 200


CODE_LIMIT = 200


@dataclass(frozen=True)
class TopicRequest:
    name: str
    lock_duration_ms: int
    variables: list[str] | None = None  # None: every variable


@dataclass(frozen=True)
class LockedTask:
    """A task handed to a worker by fetch-and-lock."""

    id: str
    topic: str
    worker_id: str
    instance_id: str
    element_id: str
    name: str
    process: str
    process_version: int
    business_key: str | None
    variables: dict[str, Any]
    retries: int | None
    error_message: str | None
    lock_expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Finished:
    """The answer to complete, failure and bpmn-error: the task and its instance afterwards."""

    id: str
    status: str  # completed | bpmn_error | open (failed, or an uncaught error)
    instance_id: str
    instance_status: str
    retries: int | None
    available_at: datetime | None


def _text(value: object, field: str, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", {"fields": {field: "required"}})
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", {"fields": {field: f"at most {limit}"}})
    return value.strip()


def _whole(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{field} must be a whole number from {low} to {high}", {"fields": {field: f"{low} to {high}"}}
        )
    return value


def _check_topics(topics: Sequence[TopicRequest]) -> dict[str, TopicRequest]:
    if not topics:
        raise InvalidInput("name at least one topic", {"fields": {"topics": "at least one"}})
    if len(topics) > MAX_TOPICS:
        raise InvalidInput(f"at most {MAX_TOPICS} topics per fetch", {"fields": {"topics": f"at most {MAX_TOPICS}"}})
    checked: dict[str, TopicRequest] = {}
    for i, topic in enumerate(topics):
        name = _text(topic.name, f"topics.{i}.name", TOPIC_LIMIT)
        _whole(topic.lock_duration_ms, f"topics.{i}.lock_duration_ms", 1, MAX_LOCK_MS)
        if topic.variables is not None and len(topic.variables) > MAX_VARIABLE_NAMES:
            raise InvalidInput(
                f"at most {MAX_VARIABLE_NAMES} variable names per topic",
                {"fields": {f"topics.{i}.variables": f"at most {MAX_VARIABLE_NAMES}"}},
            )
        if name in checked:
            raise InvalidInput(f"topic {name!r} is named twice", {"fields": {f"topics.{i}.name": "named twice"}})
        checked[name] = topic
    return checked


def fetch_and_lock(
    ctx: EngineContext, actor: Actor, worker_id: str, max_tasks: int, topics: Sequence[TopicRequest]
) -> list[LockedTask]:
    """Lock up to `max_tasks` fetchable tasks of the topics for the worker, oldest first; raises InvalidInput."""
    require(actor, "external_task.work")
    worker_id = _text(worker_id, "worker_id", NAME_LIMIT)
    _whole(max_tasks, "max_tasks", 1, MAX_TASKS)
    wanted = _check_topics(topics)
    now = ctx.clock.now()
    query = (
        select(ExternalTask, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == ExternalTask.instance_id)
        .where(
            ExternalTask.status == "open",
            ExternalTask.topic.in_(list(wanted)),
            ProcessInstance.status == "running",
            or_(ExternalTask.lock_expires_at.is_(None), ExternalTask.lock_expires_at <= now),
            or_(ExternalTask.available_at.is_(None), ExternalTask.available_at <= now),
            or_(ExternalTask.retries.is_(None), ExternalTask.retries > 0),
        )
        .options(defer(ProcessInstance.state), joinedload(ProcessInstance.definition))
        .order_by(ExternalTask.id)
        .limit(max_tasks)
        .with_for_update(of=ExternalTask, skip_locked=True)  # PostgreSQL; SQLite has one writer
    )
    locked: list[LockedTask] = []
    with ctx.uow() as uow:
        session = uow.session
        for row, instance in session.execute(query).all():
            topic = wanted[row.topic]
            row.worker_id = worker_id
            row.lock_expires_at = now + timedelta(milliseconds=topic.lock_duration_ms)
            values = {**(instance.variables or {}), **(row.inputs or {})}
            if topic.variables is not None:
                values = {k: v for k, v in values.items() if k in set(topic.variables)}
            locked.append(
                LockedTask(
                    id=row.uuid,
                    topic=row.topic,
                    worker_id=worker_id,
                    instance_id=instance.uuid,
                    element_id=row.element_id,
                    name=row.name,
                    process=instance.definition.key,
                    process_version=instance.definition.version,
                    business_key=instance.business_key,
                    variables=values,
                    retries=row.retries,
                    error_message=row.error_message,
                    lock_expires_at=row.lock_expires_at,
                    created_at=row.created_at,
                )
            )
            audit.record(
                session,
                "external_task_locked",
                now,
                instance=instance,
                actor=actor.username,
                task_uuid=row.uuid,
                element_id=row.element_id,
                data={"topic": row.topic, "worker_id": worker_id, "lock_expires_at": row.lock_expires_at.isoformat()},
            )
        uow.commit()
    return locked


def _held(ctx: EngineContext, session: Session, task_id: str, worker_id: str) -> tuple[ExternalTask, ProcessInstance]:
    """The task (row-locked, after its instance) if `worker_id` holds its unexpired lock; raises NotFound, Conflict."""
    found = session.execute(
        select(ExternalTask.instance_id, ProcessInstance.uuid)
        .join(ProcessInstance, ProcessInstance.id == ExternalTask.instance_id)
        .where(ExternalTask.uuid == task_id)
    ).first()
    if found is None:
        raise NotFound(f"external task {task_id} does not exist")
    instance = load_instance(session, found[1], lock=True)
    row = session.scalars(
        select(ExternalTask)
        .where(ExternalTask.uuid == task_id)
        .with_for_update(of=ExternalTask)
        .execution_options(populate_existing=True)
    ).one()
    now = ctx.clock.now()
    if row.status != "open":
        raise Conflict(f"external task {task_id} is {row.status.replace('_', ' ')}")
    if row.worker_id != worker_id or row.lock_expires_at is None or row.lock_expires_at <= now:
        holder = (
            "it is not locked"
            if row.worker_id is None or row.lock_expires_at is None or row.lock_expires_at <= now
            else "another worker holds its lock"
        )
        raise Conflict(
            f"worker {worker_id!r} does not hold the lock of external task {task_id}: {holder}; fetch and lock it first"
        )
    if instance.status != "running":
        raise Conflict(f"process instance {instance.uuid} is {instance.status}")
    return row, instance


def _finished(row: ExternalTask, instance: ProcessInstance) -> Finished:
    return Finished(
        id=row.uuid,
        status=row.status,
        instance_id=instance.uuid,
        instance_status=instance.status,
        retries=row.retries,
        available_at=row.available_at,
    )


def complete(
    ctx: EngineContext, actor: Actor, task_id: str, worker_id: str, variables: dict[str, Any] | None = None
) -> Finished:
    """Complete a locked task with the worker's variables, as one engine step; raises NotFound, Conflict,
    InvalidInput."""
    require(actor, "external_task.work")
    worker_id = _text(worker_id, "worker_id", NAME_LIMIT)
    variables = check_variables(variables, ctx.limits)
    with ctx.uow() as uow:
        session = uow.session
        row, instance = _held(ctx, session, task_id, worker_id)
        now = ctx.clock.now()
        row.status, row.completed_at, row.completed_by, row.lock_expires_at = "completed", now, worker_id, None
        audit.record(
            session,
            "external_task_completed",
            now,
            instance=instance,
            actor=actor.username,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={"topic": row.topic, "worker_id": worker_id, "variables": sorted(variables)},
        )
        session.flush()
        try:
            run_step(ctx, session, instance, lambda run: run.complete_external(task_id, variables), actor.username)
        except KeyError as err:
            raise Conflict(f"external task {task_id} no longer waits in the process") from err
        result = _finished(row, instance)
        uow.commit()
        return result


def fail(
    ctx: EngineContext,
    actor: Actor,
    task_id: str,
    worker_id: str,
    message: str,
    retries: int,
    retry_timeout_ms: int = 0,
) -> Finished:
    """Report a failed attempt: with retries left the task is fetchable again after the timeout, with none
    the instance gets an incident naming the element; raises NotFound, Conflict, InvalidInput."""
    require(actor, "external_task.work")
    worker_id = _text(worker_id, "worker_id", NAME_LIMIT)
    message = _text(message, "message", MAX_MESSAGE)
    _whole(retries, "retries", 0, MAX_RETRIES)
    _whole(retry_timeout_ms, "retry_timeout_ms", 0, MAX_RETRY_TIMEOUT_MS)
    with ctx.uow() as uow:
        session = uow.session
        row, instance = _held(ctx, session, task_id, worker_id)
        now = ctx.clock.now()
        row.retries, row.error_message, row.worker_id, row.lock_expires_at = retries, message, None, None
        row.available_at = now + timedelta(milliseconds=retry_timeout_ms) if retry_timeout_ms else None
        audit.record(
            session,
            "external_task_failed",
            now,
            instance=instance,
            actor=actor.username,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={
                "topic": row.topic,
                "worker_id": worker_id,
                "message": message,
                "retries": retries,
                "retry_timeout_ms": retry_timeout_ms,
            },
        )
        if retries == 0:
            raise_incident(
                session,
                instance,
                row.uuid,
                row.element_id,
                f"external task {row.element_id!r} (topic {row.topic!r}) failed with no retries left: {message}",
                "ExternalTaskFailed",
                now,
            )
        result = _finished(row, instance)
        uow.commit()
        return result


def bpmn_error(
    ctx: EngineContext,
    actor: Actor,
    task_id: str,
    worker_id: str,
    error_code: str,
    error_message: str | None = None,
    variables: dict[str, Any] | None = None,
) -> Finished:
    """Throw a BPMN error at a locked task, as one engine step: an error boundary event or event
    sub-process catches it; uncaught, the instance gets an incident and the task stays open.
    Raises NotFound, Conflict, InvalidInput."""
    require(actor, "external_task.work")
    worker_id = _text(worker_id, "worker_id", NAME_LIMIT)
    error_code = _text(error_code, "error_code", CODE_LIMIT)
    error_message = _text(error_message, "error_message", MAX_MESSAGE, required=False) or None
    variables = check_variables(variables, ctx.limits)
    with ctx.uow() as uow:
        session = uow.session
        row, instance = _held(ctx, session, task_id, worker_id)
        now = ctx.clock.now()
        row.status, row.completed_at, row.completed_by, row.lock_expires_at = "bpmn_error", now, worker_id, None
        session.flush()
        caught: list[bool] = []
        try:
            run_step(
                ctx,
                session,
                instance,
                lambda run: caught.append(run.throw_error(task_id, error_code, error_message, variables)),
                actor.username,
            )
        except KeyError as err:
            raise Conflict(f"external task {task_id} no longer waits in the process") from err
        if caught and not caught[0]:  # an incident; the task waits for the incident's retry
            row.status, row.completed_at, row.completed_by, row.worker_id = "open", None, None, None
            row.retries = 0
            row.error_message = f"BPMN error {error_code}" + (f": {error_message}" if error_message else "")
        audit.record(
            session,
            "external_task_bpmn_error",
            now,
            instance=instance,
            actor=actor.username,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={
                "topic": row.topic,
                "worker_id": worker_id,
                "error_code": error_code,
                "error_message": error_message,
                "caught": bool(caught and caught[0]),
                "variables": sorted(variables),
            },
        )
        session.flush()
        result = _finished(row, instance)
        uow.commit()
        return result


def extend_lock(ctx: EngineContext, actor: Actor, task_id: str, worker_id: str, new_duration_ms: int) -> LockedTask:
    """Lock the task for `new_duration_ms` from now; raises NotFound, Conflict, InvalidInput."""
    require(actor, "external_task.work")
    worker_id = _text(worker_id, "worker_id", NAME_LIMIT)
    _whole(new_duration_ms, "new_duration_ms", 1, MAX_LOCK_MS)
    with ctx.uow() as uow:
        session = uow.session
        row, instance = _held(ctx, session, task_id, worker_id)
        row.lock_expires_at = ctx.clock.now() + timedelta(milliseconds=new_duration_ms)
        result = LockedTask(
            id=row.uuid,
            topic=row.topic,
            worker_id=worker_id,
            instance_id=instance.uuid,
            element_id=row.element_id,
            name=row.name,
            process=instance.definition.key,
            process_version=instance.definition.version,
            business_key=instance.business_key,
            variables={},
            retries=row.retries,
            error_message=row.error_message,
            lock_expires_at=row.lock_expires_at,
            created_at=row.created_at,
        )
        uow.commit()
        return result
