"""Approval patterns: one BPMN user task, approved by several people under a completion rule.

The workflow engine sees one user task. We give each approver a personal task row sharing
the task's `approval_batch`, count the votes as they come in, and complete the BPMN task as
soon as the rule is met (approved) or can no longer be met (rejected early); the remaining
rows are cancelled. The BPMN task receives the outcome in the form's decision field and
every vote under `votes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.errors import Forbidden
from engine.db.models import Group, GroupMember, HumanTask, ProcessInstance, User
from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.sandbox import SandboxedEnvironment


class NoApprovers(Exception):
    """An approval task resolved to nobody: the instance needs attention."""


@dataclass(frozen=True)
class Tally:
    approvals: int
    rejections: int
    pending: int

    @property
    def total(self) -> int:
        return self.approvals + self.rejections + self.pending


def required(config: dict[str, Any], total: int) -> int:
    """How many approvals the rule needs out of `total` approvers."""
    rule = config.get("rule", "all")
    if rule == "any":
        return 1
    if rule == "count":
        return min(int(config.get("count") or 1), max(total, 1)) if total else int(config.get("count") or 1)
    if rule == "percent":
        return max(1, math.ceil(total * float(config.get("percent") or 100) / 100))
    return total


def decide(config: dict[str, Any], tally: Tally) -> str | None:
    """'approve' once enough approved, 'reject' once that can no longer happen, else None."""
    need = required(config, tally.total)
    if tally.approvals >= need:
        return "approve"
    if tally.approvals + tally.pending < need:
        return "reject"
    return None


def resolve_approvers(
    session: Session, config: dict[str, Any], variables: dict[str, Any], time_limit: float
) -> list[str]:
    """The user names that must vote, active users only, in order; raises NoApprovers."""
    if config.get("group"):
        names = list(
            session.scalars(
                select(User.username)
                .join(GroupMember, GroupMember.user_id == User.id)
                .join(Group, Group.id == GroupMember.group_id)
                .where(Group.name == config["group"], User.active.is_(True))
                .order_by(User.username)
            )
        )
    else:
        names = _evaluate_list(config["approvers"], variables, time_limit)
        known = set(session.scalars(select(User.username).where(User.username.in_(names), User.active.is_(True))))
        unknown = [n for n in names if n not in known]
        if unknown:
            raise NoApprovers(f"approvers are not active users: {', '.join(unknown)}")
    names = list(dict.fromkeys(names))
    if not names:
        raise NoApprovers(f"no approvers for {config.get('group') or config.get('approvers')}")
    return names


def _evaluate_list(expression: str, variables: dict[str, Any], time_limit: float) -> list[str]:
    try:
        value = SandboxedEnvironment(time_limit=time_limit).evaluate(expression, dict(variables))
    except (SandboxError, NameError, TypeError, ValueError, KeyError) as err:
        raise NoApprovers(f"approvers expression {expression!r} failed: {err}") from err
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise NoApprovers(f"approvers expression {expression!r} must give a list of user names")
    return [v for v in value if v]


def tally(rows: list[HumanTask], decision_key: str | None) -> Tally:
    approvals = rejections = pending = 0
    for row in rows:
        if row.status == "open":
            pending += 1
        elif row.status == "completed":
            vote = (row.data or {}).get(decision_key) if decision_key else "approve"
            if vote == "reject":
                rejections += 1
            else:
                approvals += 1
    return Tally(approvals, rejections, pending)


def decision_key(form: dict[str, Any] | None) -> str | None:
    """The form field that carries approve/reject, if any."""
    for component in (form or {}).get("components", []):
        values = {v.get("value") for v in component.get("values", []) if isinstance(v, dict)}
        key = component.get("key")
        if isinstance(key, str) and key.endswith("decision") and {"approve", "reject"} <= values:
            return key
    return None


def check_separation(
    session: Session, meta: dict[str, Any], instance: ProcessInstance, row: HumanTask, username: str
) -> None:
    """Enforce the process's separation of duties; raises Forbidden naming the rule."""
    duties = meta.get("separation") or {}
    if duties.get("initiator") and instance.started_by == username:
        raise Forbidden(f"{username} started this request and may not also decide on it (separation of duties)")
    if duties.get("repeat"):
        earlier = session.scalar(
            select(HumanTask.id)
            .where(
                HumanTask.instance_id == instance.id,
                HumanTask.completed_by == username,
                HumanTask.id != row.id,
                HumanTask.status == "completed",
            )
            .limit(1)
        )
        if earlier is not None:
            raise Forbidden(
                f"{username} already decided on this request and may not decide twice (separation of duties)"
            )
