"""What the monitor's list (and the dashboard's links into it) can be narrowed by: the filter as a value,
read from URL parameters, and its SQL conditions over instances and their tasks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, exists, or_

from engine.core import bounds, outcomes
from engine.core.errors import InvalidInput
from engine.db.models import HumanTask, ProcessDefinition, ProcessInstance, TaskGroup
from engine.runtime.instances import STATUSES
from engine.sla import state as sla


@dataclass(frozen=True)
class InstanceFilter:
    """What the monitor list can be narrowed by; `to_query` gives the same filter as URL parameters."""

    process: str | None = None
    version: int | None = None
    status: str | None = None
    business_key: str | None = None
    started_by: str | None = None
    started_from: date | None = None
    started_to: date | None = None  # inclusive
    overdue: bool = False  # an open task past its due time
    in_error: bool = False
    step: str | None = None  # an open task at this element
    group: str | None = None  # an open task offered to this group
    sla: str | None = None  # "breached": a task finished late or is overdue
    rejected: bool = False  # a task was decided "reject"
    outcome: str | None = None  # what the instance came to (engine.core.outcomes)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InstanceFilter:
        """Parse URL parameters; raises InvalidInput naming every bad field."""
        errors: dict[str, str] = {}

        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:200] or None

        def day(name: str) -> date | None:
            value = text(name)
            if value is None:
                return None
            try:
                return bounds.day(value)
            except ValueError as err:
                errors[name] = str(err)
                return None

        def flag(name: str) -> bool:
            return (args.get(name) or "").lower() in ("1", "true", "yes", "on")

        version = None
        if text("version"):
            try:
                version = bounds.whole(text("version"))
            except ValueError as err:
                errors["version"] = str(err)
        status = text("status")
        if status is not None and status not in STATUSES:
            errors["status"] = f"must be one of {', '.join(STATUSES)}"
        outcome = text("outcome")
        if outcome is not None and outcome not in outcomes.OUTCOMES:
            errors["outcome"] = f"must be one of {', '.join(outcomes.OUTCOMES)}"
        sla = text("sla")
        if sla is not None and sla != "breached":
            errors["sla"] = "must be 'breached'"
        result = cls(
            process=text("process"),
            version=version,
            status=status,
            business_key=text("business_key"),
            started_by=text("started_by"),
            started_from=day("started_from"),
            started_to=day("started_to"),
            overdue=flag("overdue"),
            in_error=flag("in_error"),
            step=text("step"),
            group=text("group"),
            sla=sla,
            rejected=flag("rejected"),
            outcome=outcome,
        )
        if result.started_from and result.started_to and result.started_to < result.started_from:
            errors["started_to"] = "must not be before started_from"
        if errors:
            raise InvalidInput(
                "invalid filter: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())), {"fields": errors}
            )
        return result

    def to_query(self) -> dict[str, Any]:
        """The filter as URL parameters (only what is set)."""
        out: dict[str, str] = {}
        for name, value in self.__dict__.items():
            if value is None or value is False:
                continue
            out[name] = "1" if value is True else value.isoformat() if isinstance(value, date) else str(value)
        return out

    def is_empty(self) -> bool:
        return not self.to_query()


_Ts = TypeVarTuple("_Ts")


def day_start(value: date) -> datetime:
    return datetime.combine(value, time(), tzinfo=UTC)


def filtered(query: Select[*_Ts], f: InstanceFilter, now: datetime) -> Select[*_Ts]:
    """Add the filter's conditions to a query over ProcessInstance joined to ProcessDefinition."""
    conditions: list[ColumnElement[bool]] = []
    if f.process:
        conditions.append(ProcessDefinition.key == f.process)
    if f.version:
        conditions.append(ProcessDefinition.version == f.version)
    if f.status:
        conditions.append(ProcessInstance.status == f.status)
    if f.in_error:
        conditions.append(ProcessInstance.status == "error")
    if f.outcome:
        conditions.append(ProcessInstance.outcome == f.outcome)
    if f.business_key:
        conditions.append(ProcessInstance.business_key == f.business_key)
    if f.started_by:
        conditions.append(ProcessInstance.started_by == f.started_by)
    if f.started_from:
        conditions.append(ProcessInstance.created_at >= day_start(f.started_from))
    if f.started_to:
        conditions.append(ProcessInstance.created_at < day_start(f.started_to + timedelta(days=1)))
    open_task = and_(HumanTask.instance_id == ProcessInstance.id, HumanTask.status == "open")
    if f.overdue:
        conditions.append(exists().where(open_task, sla.overdue_condition(HumanTask.due_at, now)))
    if f.step:
        conditions.append(exists().where(open_task, HumanTask.element_id == f.step))
    if f.group:
        conditions.append(exists().where(open_task, TaskGroup.task_id == HumanTask.id, TaskGroup.group_name == f.group))
    if f.sla == "breached":
        conditions.append(exists().where(HumanTask.instance_id == ProcessInstance.id, late_task(now)))
    if f.rejected:
        conditions.append(exists().where(HumanTask.instance_id == ProcessInstance.id, rejected_task()))
    return query.where(*conditions)


def late_task(now: datetime) -> ColumnElement[bool]:
    """SQL: a task with a due time that was completed after it, or is open past it."""
    return and_(
        HumanTask.due_at.is_not(None),
        or_(
            and_(HumanTask.status == "completed", HumanTask.completed_at > HumanTask.due_at),
            and_(HumanTask.status == "open", sla.overdue_condition(HumanTask.due_at, now)),
        ),
    )


def rejected_task() -> ColumnElement[bool]:
    """SQL: a completed task whose decision was 'reject'."""
    return and_(HumanTask.status == "completed", HumanTask.data["decision"].as_string() == "reject")


__all__ = ["InstanceFilter", "day_start", "filtered", "late_task", "rejected_task"]
