"""Instance monitoring for PMO staff and admins: search, one instance in depth, variable corrections.

Reading needs `instance.monitor`; corrections need `instance.edit_variables`. Bulk actions are in
`engine.monitoring.bulk`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput
from engine.core.permissions import Actor, allowed, require
from engine.core.records import offer_label
from engine.db.models import DeploymentFile, Event, HumanTask, ProcessDefinition, ProcessInstance
from engine.db.statements import load_instance, open_rows
from engine.events import stream as audit
from engine.integration.external_views import ExternalTaskView, of_instance
from engine.monitoring.filters import InstanceFilter, filtered
from engine.runtime import instances
from engine.runtime.steps import run_step
from engine.sla import state as sla
from engine.spiff.runtime.run import Run
from engine.tasks.path import Step, path_of

MAX_PER_PAGE = 200
PATH_ELEMENT_EVENTS = ("element_completed", "task_completed")


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class InstanceRow:
    id: str
    process: str
    process_name: str
    version: int
    business_key: str | None
    title: str | None
    status: str
    started_by: str | None
    created_at: datetime
    ended_at: datetime | None
    open_tasks: int
    overdue_tasks: int
    error: str | None
    outcome: str | None = None  # engine.core.outcomes
    revision: int = 0  # what a bulk action over picked instances checks is unchanged


@dataclass(frozen=True)
class SearchResult:
    items: list[InstanceRow]
    total: int
    page: int
    per_page: int
    filters: InstanceFilter
    processes: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(
    ctx: EngineContext, actor: Actor, filters: InstanceFilter, page: int = 1, per_page: int = 50
) -> SearchResult:
    """Instances matching the filter, newest first, one page; raises Forbidden."""
    require(actor, "instance.monitor")
    page = max(1, page)
    per_page = max(1, min(MAX_PER_PAGE, per_page))
    now = ctx.clock.now()
    base = filtered(select(ProcessInstance.id).join(ProcessInstance.definition), filters, now)
    with ctx.uow(write=False) as uow:
        session = uow.session
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.scalars(
            filtered(select(ProcessInstance).join(ProcessInstance.definition), filters, now)
            .options(joinedload(ProcessInstance.definition))
            .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        counts = _task_counts(session, [r.id for r in rows], now)
        keys = list(session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))
        items = [
            InstanceRow(
                id=r.uuid,
                process=r.definition.key,
                process_name=r.definition.name or r.definition.key,
                version=r.definition.version,
                business_key=r.business_key,
                title=_title(r.variables),
                status=r.status,
                started_by=r.started_by,
                created_at=r.created_at,
                ended_at=r.ended_at,
                open_tasks=counts.get(r.id, (0, 0))[0],
                overdue_tasks=counts.get(r.id, (0, 0))[1],
                error=(r.error or {}).get("message") if r.status == "error" else None,
                outcome=r.outcome,
                revision=r.revision,
            )
            for r in rows
        ]
    return SearchResult(items, total, page, per_page, filters, keys)


def _title(variables: dict[str, Any] | None) -> str | None:
    value = (variables or {}).get("title")
    return str(value)[:200] if value else None


def _task_counts(session: Session, pks: list[int], now: datetime) -> dict[int, tuple[int, int]]:
    if not pks:
        return {}
    overdue = func.sum(case((sla.overdue_condition(HumanTask.due_at, now), 1), else_=0))
    rows = session.execute(
        select(HumanTask.instance_id, func.count(), overdue)
        .where(HumanTask.instance_id.in_(pks), HumanTask.status == "open")
        .group_by(HumanTask.instance_id)
    ).all()
    return {pk: (int(n), int(late or 0)) for pk, n, late in rows}


# ---------------------------------------------------------------- one instance


@dataclass(frozen=True)
class ActiveTask:
    id: str
    element_id: str
    name: str
    role: str | None
    candidate_groups: list[str]
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    sla: str  # none | on_track | at_risk | overdue
    candidate_users: list[str] = field(default_factory=list)
    group_source: str | None = None  # lane | candidate_groups | candidate_users | process_default | default

    @property
    def offered_to(self) -> str:
        """Whom the task is offered to and where its group came from (engine.core.records.offer_label)."""
        return offer_label(self.role, self.candidate_groups, self.candidate_users, self.group_source)


@dataclass(frozen=True)
class Incident:
    at: datetime
    kind: str  # incident_raised | incident_retried
    element_id: str | None
    message: str | None
    actor: str | None


@dataclass(frozen=True)
class Decision:
    """A decision taken in the instance: a person's on a task (`task_id`), or a decision table's (`event_id`)."""

    at: datetime
    name: str  # the task's or the decision table's name
    value: str  # the option chosen ("approve"), or the table's outputs ("tier = 2")
    actor: str | None
    task_id: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class InstanceDetail:
    id: str
    process: str
    process_name: str
    version: int
    business_key: str | None
    title: str | None
    status: str
    started_by: str | None
    created_at: datetime
    ended_at: datetime | None
    purged_at: datetime | None
    cancel_reason: str | None
    error: dict[str, Any] | None
    variables: dict[str, Any]
    active: list[ActiveTask]
    external: list[ExternalTaskView]  # open external tasks: waiting for a system's worker
    incidents: list[Incident]
    timeline: list[Step]
    visited: list[str]  # element ids the instance passed through
    bpmn_xml: str | None
    may_edit: bool
    may_cancel: bool
    may_retry: bool
    decisions: list[Decision] = field(default_factory=list)


def detail(ctx: EngineContext, actor: Actor, instance_id: str) -> InstanceDetail:
    """One instance with its path, active tasks, variables and incidents; raises NotFound, Forbidden."""
    require(actor, "instance.monitor")
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        session = uow.session
        inst = load_instance(session, instance_id)
        d = inst.definition
        active = [
            ActiveTask(
                id=t.uuid,
                element_id=t.element_id,
                name=t.name,
                role=t.role,
                candidate_groups=list(t.candidate_groups),
                assignee=t.assignee,
                created_at=t.created_at,
                due_at=t.due_at,
                sla=sla.state(t.due_at, t.at_risk_at, now, t.created_at),
                candidate_users=list(t.candidate_users or []),
                group_source=t.group_source,
            )
            for t in open_rows(session, inst)
        ]
        incidents = [
            Incident(
                at=e.occurred_at,
                kind=e.type,
                element_id=e.element_id,
                message=(e.data or {}).get("message") or _previous(e.data),
                actor=e.actor,
            )
            for e in session.scalars(
                select(Event)
                .where(Event.instance_id == inst.id, Event.type.in_(("incident_raised", "incident_retried")))
                .order_by(Event.id)
            )
        ]
        visited = list(
            dict.fromkeys(
                e
                for e in session.scalars(
                    select(Event.element_id)
                    .where(
                        Event.instance_id == inst.id, Event.type.in_(PATH_ELEMENT_EVENTS), Event.element_id.is_not(None)
                    )
                    .order_by(Event.id)
                )
                if e is not None
            )
        )
        xml = session.scalar(
            select(DeploymentFile.content).where(
                DeploymentFile.deployment_id == d.deployment_id, DeploymentFile.filename == d.bpmn_file
            )
        )
        live = inst.status in ("running", "error")
        return InstanceDetail(
            id=inst.uuid,
            process=d.key,
            process_name=d.name or d.key,
            version=d.version,
            business_key=inst.business_key,
            title=_title(inst.variables),
            status=inst.status,
            started_by=inst.started_by,
            created_at=inst.created_at,
            ended_at=inst.ended_at,
            purged_at=inst.purged_at,
            cancel_reason=inst.cancel_reason,
            error=inst.error,
            variables=dict(inst.variables),
            active=active,
            external=of_instance(session, inst, now),
            incidents=incidents,
            timeline=path_of(session, inst.id),
            visited=visited,
            bpmn_xml=xml,
            may_edit=live and allowed(actor, "instance.edit_variables"),
            may_cancel=live and allowed(actor, "instance.cancel_any"),
            may_retry=inst.status == "error" and allowed(actor, "instance.retry"),
            decisions=_decisions(session, inst.id),
        )


DECISION_EVENTS = ("task_completed", "decision_evaluated")


def _decisions(session: Session, instance_pk: int) -> list[Decision]:
    """The decisions taken in an instance, in order: tasks completed with a decision, decision tables evaluated."""
    found = []
    for e in session.scalars(
        select(Event).where(Event.instance_id == instance_pk, Event.type.in_(DECISION_EVENTS)).order_by(Event.id)
    ):
        data = e.data or {}
        if e.type == "decision_evaluated":
            outputs = _mapping(data.get("outputs"))
            shown = ", ".join(f"{k} = {v}" for k, v in outputs.items()) or "no rule matched"
            name = str(data.get("name") or data.get("decision") or e.element_id or "decision")
            found.append(Decision(e.occurred_at, name, shown, e.actor, event_id=e.uuid))
            continue
        submitted = _mapping(data.get("data"))
        chosen = next((str(v) for k, v in submitted.items() if k.endswith("decision") and v not in (None, "")), None)
        if chosen is not None:
            found.append(Decision(e.occurred_at, str(data.get("name") or e.element_id), chosen, e.actor, e.task_uuid))
    return found


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _previous(data: dict[str, Any] | None) -> str | None:
    previous = (data or {}).get("previous_error") or {}
    return f"retried after: {previous.get('message')}" if previous.get("message") else None


# ---------------------------------------------------------------- corrections


@dataclass(frozen=True)
class VariablesChanged:
    instance_id: str
    changes: dict[str, dict[str, Any]]  # key -> {"before": ..., "after": ...}
    removed: list[str]
    variables: dict[str, Any]


def edit_variables(
    ctx: EngineContext, actor: Actor, instance_id: str, changes: dict[str, Any], removed: list[str], reason: str
) -> VariablesChanged:
    """Set and remove variables of a running (or failed) instance, with a reason, in one audited step.

    Raises Forbidden, NotFound, InvalidInput (no reason, bad names, no change) or Conflict (finished).
    """
    require(actor, "instance.edit_variables")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required to change variables", {"fields": {"reason": "required"}})
    changes = instances.check_variables(changes, ctx.limits)
    removed = [k for k in dict.fromkeys(removed or []) if k not in changes]
    with ctx.uow() as uow:
        session = uow.session
        inst = load_instance(session, instance_id, lock=True)
        if inst.status not in ("running", "error"):
            raise Conflict(f"process instance {instance_id} is {inst.status}; only running instances can be changed")
        before = dict(inst.variables)
        unknown = [k for k in removed if k not in before]
        if unknown:
            raise InvalidInput(
                f"no such variables: {', '.join(unknown)}",
                {"fields": {f"variables.{k}": "does not exist" for k in unknown}},
            )
        changed = {k: v for k, v in changes.items() if k not in before or _json(before[k]) != _json(v)}
        if not changed and not removed:
            raise InvalidInput("nothing to change: the variables are the same", {"fields": {"variables": "unchanged"}})
        running = inst.status == "running"

        def change(run: Run) -> None:
            run.set_variables(changed, removed)
            if running:
                run.reevaluate_conditions()  # a conditional event waiting for these values fires now

        run_step(ctx, session, inst, change, actor.username)
        diff = {k: {"before": before.get(k), "after": v} for k, v in changed.items()}
        diff.update({k: {"before": before[k], "after": None, "removed": True} for k in removed})
        audit.record(
            session,
            "variables_changed",
            ctx.clock.now(),
            instance=inst,
            actor=actor.username,
            data={"reason": reason, "changes": diff},
        )
        result = VariablesChanged(inst.uuid, diff, removed, dict(inst.variables))
        uow.commit()
    return result


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


__all__ = ["InstanceFilter", "search", "detail", "edit_variables"]
