"""The SLA state of a task, decided in one place: every page, API answer and count that labels a
task (the inbox, the task page, the monitor, the dashboard, the designer's live view) asks here.

A task with no due date is "none". From its due time on (`now >= due_at`, the same instant the
breach check writes `sla_breached`) it is "overdue". From its own `at_risk_at` on (set when the task
was created: the `atRisk` share of the allowed time, on the task's business calendar when it has
one) it is "at_risk"; a task without an `at_risk_at` is at risk past AT_RISK_SHARE of the time from
its creation to its due time. Before that it is "on_track".

This module imports nothing of the engine, so any layer (the BPMN reader in engine/spiff included)
may take the constant and the rules from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression

AT_RISK_SHARE = 0.75  # past this share of the time allowed, a task is "at risk" (`atRisk` overrides)
STATES = ("none", "on_track", "at_risk", "overdue")


class TaskTimes(Protocol):
    """What the label is computed from (a HumanTask row has these)."""

    status: str
    created_at: datetime
    due_at: datetime | None
    at_risk_at: datetime | None


def at_risk_time(created_at: datetime, due_at: datetime | None, share: float = AT_RISK_SHARE) -> datetime | None:
    """The instant `share` of the time from creation to the due time has passed (the due time if none is allowed)."""
    if due_at is None or due_at <= created_at:
        return due_at
    return created_at + (due_at - created_at) * share


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    """Whether a task with this due time is overdue now: from the due instant on."""
    return due_at is not None and due_at <= now


def overdue_condition(due_at: SQLColumnExpression[datetime | None], now: datetime) -> ColumnElement[bool]:
    """SQL: the same boundary as `is_overdue`, for counts and filters (NULL due times never match)."""
    return due_at <= now


def state(
    due_at: datetime | None, at_risk_at: datetime | None, now: datetime, created_at: datetime | None = None
) -> str:
    """'none', 'on_track', 'at_risk' or 'overdue'; without `at_risk_at`, AT_RISK_SHARE of the time since
    `created_at` (no at-risk phase when neither is known)."""
    if due_at is None:
        return "none"
    if is_overdue(due_at, now):
        return "overdue"
    if at_risk_at is None and created_at is not None:
        at_risk_at = at_risk_time(created_at, due_at)
    return "at_risk" if at_risk_at is not None and now >= at_risk_at else "on_track"


def of_task(task: TaskTimes, now: datetime) -> str | None:
    """The state of an open task; None for a finished one (it has no SLA state any more)."""
    if task.status != "open":
        return None
    return state(task.due_at, task.at_risk_at, now, task.created_at)


__all__ = [
    "AT_RISK_SHARE",
    "STATES",
    "TaskTimes",
    "at_risk_time",
    "is_overdue",
    "overdue_condition",
    "state",
    "of_task",
]
