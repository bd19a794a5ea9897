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

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.core.errors import Forbidden
from engine.db.models import Event, Group, GroupMember, HumanTask, ProcessInstance, User
from engine.forms.components import form_fields
from engine.forms.decisions import is_decision_field
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
    return next((f["key"] for f in form_fields(form or {}) if is_decision_field(f)), None)


# ---------------------------------------------------------------- separation of duties
#
# The rules hold for whoever completes a task and for everyone it was delegated through: its owner, each
# delegate in turn and whom a substitute stood in for, also the person an out-of-office substitute received
# a new task for (read from the task's `task_created` and `task_delegated` events since the delegation began;
# claiming or reassigning ends a delegation). A task under such rules is delegated only to its candidates
# (engine.tasks.collaboration) and given to a substitute only when they are one (engine.tasks.candidates),
# and nobody a rule bars may take it.


def meta_of(instance: ProcessInstance, row: HumanTask) -> dict[str, Any]:
    """The definition's settings for this task's element."""
    return next((t for t in instance.definition.user_tasks if t["element_id"] == row.element_id), {})


def has_duties(meta: dict[str, Any]) -> bool:
    """The task's process has a separation-of-duties rule."""
    return any((meta.get("separation") or {}).values())


def barred(
    session: Session, meta: dict[str, Any], instance: ProcessInstance, row: HumanTask, username: str
) -> str | None:
    """Why `username` may not decide on this task under the process's rules ("started this request",
    "already decided on this request"), or None. A task completed on someone's behalf counts as their decision."""
    duties = meta.get("separation") or {}
    if duties.get("initiator") and instance.started_by == username:
        return "started this request"
    if duties.get("repeat"):
        earlier = session.scalar(
            select(HumanTask.id)
            .where(
                HumanTask.instance_id == instance.id,
                or_(HumanTask.completed_by == username, HumanTask.owner == username),
                HumanTask.id != row.id,
                HumanTask.status == "completed",
            )
            .limit(1)
        )
        if earlier is not None:
            return "already decided on this request"
    return None


def delegation_chain(session: Session, row: HumanTask) -> list[str]:
    """Everyone the task was delegated through, in order (empty when it is not delegated): its owner, each
    delegate, whom a substitute stood in for, and whom an out-of-office substitute received the new task for
    (`task_created` with `substitute_for`: the substitute works it on that person's behalf until they claim it).

    A task with neither owner nor assignee was delegated through nobody, and its events are not read (the
    common case on the hot path: a group task completed by a candidate)."""
    if not row.owner and not row.assignee:
        return []
    chain: list[str | None] = []
    events = session.execute(
        select(Event.type, Event.data)
        .where(Event.instance_id == row.instance_id, Event.task_uuid == row.uuid, Event.type.in_(TRACKED))
        .order_by(Event.id)
    )
    for kind, data in events:
        data = data or {}
        if kind == "task_created":
            chain = [data.get("substitute_for")]
        elif kind != "task_delegated" or not data.get("owner"):
            chain = []  # claimed, given back, reassigned or delegated back to its owner: a new start
        else:
            chain += [data.get("owner"), data.get("from"), data.get("substitute_for"), data.get("to")]
    return [name for name in dict.fromkeys([row.owner, *chain]) if isinstance(name, str) and name]


TRACKED = ("task_created", "task_delegated", "task_reassigned", "task_claimed", "task_unclaimed")


def check_separation(
    session: Session, meta: dict[str, Any], instance: ProcessInstance, row: HumanTask, username: str
) -> None:
    """Enforce the process's separation of duties on `username` completing the task and on everyone it was
    delegated through; raises Forbidden naming the person and the rule."""
    if not has_duties(meta):
        return
    reason = barred(session, meta, instance, row, username)
    if reason is not None:
        raise Forbidden(f"{username} {reason} and may not also decide on it (separation of duties)")
    for person in delegation_chain(session, row):
        if person != username and (reason := barred(session, meta, instance, row, person)) is not None:
            raise Forbidden(
                f"{username} would decide on behalf of {person}, who {reason} and may not decide on it, "
                "also not through a delegate (separation of duties)"
            )


def who_may_act(session: Session, meta: dict[str, Any], instance: ProcessInstance, row: HumanTask) -> list[str]:
    """The task page's lines on who may work this task and who may not, and why."""
    offered = [*(f"members of {g}" for g in row.candidate_groups), *(row.candidate_users or [])]
    lines = [f"This task is offered to {', '.join(offered) or 'nobody'}."]
    if not has_duties(meta):
        return lines
    duties = meta.get("separation") or {}
    if duties.get("initiator") and instance.started_by:
        lines.append(
            f"{instance.started_by} started this request, so another person must decide on it: "
            "neither they nor anyone on their behalf may complete it (separation of duties)."
        )
    if duties.get("repeat"):
        lines.append("Nobody who already decided on this request may decide on it again (separation of duties).")
    lines.append("While these rules apply, the task can be delegated only to its candidates.")
    return lines
