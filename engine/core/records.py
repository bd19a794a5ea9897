"""What services return: frozen dataclasses, never ORM rows or SpiffWorkflow objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.db.models import Event, HumanTask, ProcessDefinition, ProcessInstance

GROUP_SOURCES = {
    "lane": "lane",
    "candidate_groups": "candidate groups",
    "candidate_users": "candidate users",
    "process_default": "process default",
    "default": "default group",
}


def offer_label(role: str | None, groups: list[str], users: list[str], source: str | None) -> str:
    """How pages show whom a task is offered to: the groups and named users, and where the group came from."""
    who = ", ".join([*groups, *users]) or role or "–"
    origin = GROUP_SOURCES.get(source or "")
    if source == "lane" and role and groups == [role]:
        return f"{role} (lane)"
    return f"{who} ({origin})" if origin else who


USER_TASK_FIELDS = (
    "element_id",
    "name",
    "lane",
    "form",
    "candidate_groups",
    "candidate_users",
    "assignee",
    "expressions",
    "default_group",
)


@dataclass(frozen=True)
class DefinitionView:
    id: str
    key: str
    version: int
    name: str
    deployment_id: str
    created_at: datetime
    user_tasks: list[dict[str, Any]] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    lane_map: dict[str, str] = field(default_factory=dict)
    new: bool = False

    @classmethod
    def of(cls, row: ProcessDefinition, new: bool = False) -> DefinitionView:
        return cls(
            id=row.uuid,
            key=row.key,
            version=row.version,
            name=row.name,
            deployment_id=row.deployment.uuid,
            created_at=row.created_at,
            user_tasks=[{k: t.get(k) for k in USER_TASK_FIELDS} for t in row.user_tasks],
            forms=sorted(row.forms),
            lane_map=dict(row.lane_map),
            new=new,
        )


@dataclass(frozen=True)
class DeploymentView:
    id: str | None
    definitions: list[DefinitionView]
    decisions: list[Any] = field(default_factory=list)  # engine.definitions.decisions.DecisionView


@dataclass(frozen=True)
class TaskView:
    id: str
    instance_id: str
    process: str
    business_key: str | None
    element_id: str
    name: str
    role: str | None
    candidate_groups: list[str]
    assignee: str | None
    status: str
    form_key: str | None
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    data: dict[str, Any] | None
    form: dict[str, Any] | None = None
    owner: str | None = None  # delegated: the assignee completes on the owner's behalf
    delegation_reason: str | None = None
    priority: int = 50
    instance_status: str | None = None  # set by tasks.complete: the instance after the step ...
    open_tasks: list[TaskView] = field(default_factory=list)  # ... and its open tasks then
    at_risk_at: datetime | None = None
    # none | on_track | at_risk | overdue (engine.sla.state), computed by the service
    sla_state: str | None = None
    candidate_users: list[str] = field(default_factory=list)  # offered to these users too (engine.tasks.candidates)
    group_source: str | None = None  # where candidate_groups came from: lane, candidate_groups, ...
    process_name: str = ""  # the process's name as people read it (its key when it has none)

    @property
    def offered_to(self) -> str:
        """Whom the task is offered to and why, as the pages show it (offer_label)."""
        return offer_label(self.role, self.candidate_groups, self.candidate_users, self.group_source)

    @classmethod
    def of(cls, row: HumanTask, form: dict[str, Any] | None = None, sla_state: str | None = None) -> TaskView:
        """The row as a view; `sla_state` is the label the service computed (engine.sla.state.of_task)."""
        inst = row.instance
        return cls(
            id=row.uuid,
            instance_id=inst.uuid,
            process=inst.definition.key,
            business_key=inst.business_key,
            element_id=row.element_id,
            name=row.name,
            role=row.role,
            candidate_groups=list(row.candidate_groups),
            assignee=row.assignee,
            status=row.status,
            form_key=row.form_key,
            created_at=row.created_at,
            due_at=row.due_at,
            completed_at=row.completed_at,
            completed_by=row.completed_by,
            data=row.data,
            form=form,
            owner=row.owner,
            delegation_reason=row.delegation_reason,
            priority=row.priority,
            at_risk_at=row.at_risk_at,
            candidate_users=list(row.candidate_users or []),
            group_source=row.group_source,
            process_name=inst.definition.name or inst.definition.key,
            sla_state=sla_state,
        )


@dataclass(frozen=True)
class InstanceView:
    id: str
    process: str
    version: int
    business_key: str | None
    status: str
    variables: dict[str, Any]
    started_by: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    error: dict[str, Any] | None
    cancel_reason: str | None
    open_tasks: list[TaskView] = field(default_factory=list)
    replayed: bool = False
    outcome: str | None = None  # engine.core.outcomes: approved, rejected, cancelled, failed, completed

    @classmethod
    def of(
        cls,
        row: ProcessInstance,
        open_tasks: list[HumanTask] | None = None,
        replayed: bool = False,
        sla_states: dict[str, str | None] | None = None,
    ) -> InstanceView:
        """The row as a view with its open tasks; `sla_states` maps a task id to its SLA label (engine.sla.state)."""
        states = sla_states or {}
        return cls(
            id=row.uuid,
            process=row.definition.key,
            version=row.definition.version,
            business_key=row.business_key,
            status=row.status,
            variables=dict(row.variables),
            started_by=row.started_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            ended_at=row.ended_at,
            error=row.error,
            cancel_reason=row.cancel_reason,
            open_tasks=[TaskView.of(t, sla_state=states.get(t.uuid)) for t in open_tasks or []],
            replayed=replayed,
            outcome=row.outcome,
        )


@dataclass(frozen=True)
class EventView:
    id: str
    type: str
    occurred_at: datetime
    actor: str | None
    task_id: str | None
    element_id: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, row: Event) -> EventView:
        return cls(
            id=row.uuid,
            type=row.type,
            occurred_at=row.occurred_at,
            actor=row.actor,
            task_id=row.task_uuid,
            element_id=row.element_id,
            data=dict(row.data),
        )


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int
