"""The `external_tasks` rows mirror each instance's ready external tasks, after every step.

`sync` is called by `engine.runtime.steps.run_step` (only for definitions that have external tasks):
new ready tasks get a row with their parameters evaluated for the worker, rows of tasks that
left the workflow (a boundary event, a gateway, cancellation) are cancelled. The worker's
side is engine/integration/external_tasks.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.db.models import ExternalTask, ProcessInstance
from engine.events import stream as audit
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.extensions.external import ExternalWork
from engine.spiff.runtime.variables import jsonable


def sync(
    session: Session, instance: ProcessInstance, work: Sequence[ExternalWork], now: datetime, time_limit: float
) -> None:
    """Make the instance's open external-task rows match its ready external tasks (called by `run_step`)."""
    wanted = {w.id: w for w in work}
    query = select(ExternalTask).where(ExternalTask.instance_id == instance.id)
    query = query.where(
        or_(ExternalTask.status == "open", ExternalTask.uuid.in_(list(wanted)))
        if wanted
        else ExternalTask.status == "open"
    )
    rows = {r.uuid: r for r in session.scalars(query)}
    for uuid, row in rows.items():
        if row.status != "open":
            continue
        if uuid not in wanted:
            reason = "instance cancelled" if instance.status == "cancelled" else "branch ended"
            row.status, row.completed_at, row.worker_id, row.lock_expires_at = "cancelled", now, None, None
            audit.record(
                session,
                "external_task_cancelled",
                now,
                instance=instance,
                task_uuid=uuid,
                element_id=row.element_id,
                data={"topic": row.topic, "reason": reason},
            )
        elif instance.status == "running" and row.retries == 0:
            row.retries, row.available_at = None, None  # its incident was retried: fetchable again
    for uuid, task in wanted.items():
        if uuid in rows:
            continue
        try:
            inputs = _inputs(task, instance.variables, time_limit)
        except _ParameterFailed as err:
            raise_incident(session, instance, uuid, task.element_id, str(err), "ExternalTaskParameterFailed", now)
            return
        session.add(
            ExternalTask(
                uuid=uuid,
                instance_id=instance.id,
                element_id=task.element_id,
                name=task.name,
                topic=task.config["topic"],
                status="open",
                inputs=inputs,
                retries=task.config.get("retries"),
                created_at=now,
            )
        )
        audit.record(
            session,
            "external_task_created",
            now,
            instance=instance,
            task_uuid=uuid,
            element_id=task.element_id,
            data={"name": task.name, "topic": task.config["topic"]},
        )


class _ParameterFailed(Exception):
    pass


def _inputs(task: ExternalWork, variables: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """What the worker gets on top of the instance's variables: the task's own values where they differ
    (a multi-instance element variable, a branch's data) and its parameters (sandboxed expressions over its
    data), evaluated now."""
    data = jsonable({k: v for k, v in task.data.items() if not str(k).startswith("_")})
    own = {k: v for k, v in data.items() if k not in variables or variables[k] != v}
    parameters = task.config.get("parameters") or {}
    if not parameters:
        return own
    context = {**variables, **data}
    environment = SandboxedEnvironment(time_limit=time_limit)
    for name, expression in parameters.items():
        try:
            own[name] = jsonable(environment.evaluate(expression, dict(context)))
        except Exception as err:  # noqa: BLE001 - any failure of the expression is an incident on the element
            raise _ParameterFailed(
                f"external task parameter {name!r} ({expression}) failed: {type(err).__name__}: {err}"
            ) from err
    return own


def raise_incident(
    session: Session,
    instance: ProcessInstance,
    task_id: str,
    element_id: str,
    message: str,
    kind: str,
    now: datetime,
    actor: str | None = None,
) -> None:
    """Put the instance in error with an incident naming the element (no engine step runs); also for
    connector tasks (engine.runtime.connector_calls, engine.integration.connectors, `actor` "connector")."""
    instance.status = "error"
    instance.error = {"element_id": element_id, "task_id": task_id, "message": message, "kind": kind}
    instance.updated_at = now
    audit.record(
        session,
        "incident_raised",
        now,
        instance=instance,
        actor=actor,
        task_uuid=task_id,
        element_id=element_id,
        data=instance.error,
    )
