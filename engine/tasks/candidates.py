"""Who a new human task is offered to: groups, named users, an assignee, and where the group came from.

The definition keeps, per user task, what its model says (engine.spiff.extensions.assignment): static
candidate groups, candidate users and assignee, and expressions for the others, evaluated here
against the instance's variables when the task is created. Then:

- groups: the task's candidate groups, else its lane's group (through the lane map);
- users: the candidate users that are active users (others are dropped with a warning);
- assignee: made the task's assignee at once (their out-of-office substitute if away), when an
  active user; otherwise the task stays offered to its candidates, with a warning;
- with no group and no candidate user left, the process's default group
  (`<pmoflow:assignment candidateGroups=.../>` on the process), else the deployment's
  (`Settings.default_group`, PMOFLOW_DEFAULT_GROUP). An assignee alone gets that group too, so
  the task is never left with nobody when it is given back.

Separation of duties holds for named people as for groups: with the `initiator` rule the
requester is neither a candidate user nor the assignee (warning), and under any rule an out-of-office
substitute who is not among the task's candidates does not get it (warning; the task stays with its
candidates); completing still checks every rule (engine.tasks.approvals.check_separation).

Warnings go into the `task_created` event; they never stop the process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from engine.core.permissions import Actor, allowed
from engine.db.models import HumanTask, TaskGroup, TaskUser, User
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.extensions.assignment import names
from engine.tasks.substitutes import effective_assignee

log = logging.getLogger("pmoflow.candidates")
# HumanTask.group_source: where a task's groups came from ("candidate_users": it has named users and no group)
SOURCES = ("lane", "candidate_groups", "candidate_users", "process_default", "default")


@dataclass(frozen=True)
class Offer:
    """Whom a task goes to. `source`: where `groups` came from (see SOURCES)."""

    groups: list[str]
    users: list[str] = field(default_factory=list)
    assignee: str | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)
    meant_for: str | None = None  # the assignee the model named, when a substitute stands in


def offer_for(
    session: Session,
    info: dict[str, Any],
    lane: str | None,
    lane_map: dict[str, str],
    variables: dict[str, Any],
    *,
    default_group: str,
    started_by: str | None,
    today: date,
    time_limit: float = 1.0,
) -> Offer:
    """The offer of a new task from its definition settings (`info`); never raises."""
    warnings: list[str] = []
    values = _values(info, variables, time_limit, warnings)
    groups, source = values["candidate_groups"], "candidate_groups"
    if not groups and lane:
        groups, source = [lane_map.get(lane, lane)], "lane"
    wanted = values["candidate_users"]
    assignee: str | None = values["assignee"][0] if values["assignee"] else None
    named = [*wanted, *([assignee] if assignee else [])]
    known = _active(session, named) if named else set()
    for name in dict.fromkeys(n for n in named if n not in known):
        warnings.append(f"{name!r} is not an active user; the task stays with its other candidates")
    users = [u for u in dict.fromkeys(wanted) if u in known]
    if assignee not in known:
        assignee = None
    if (info.get("separation") or {}).get("initiator") and started_by:
        if started_by in users or assignee == started_by:
            warnings.append(f"{started_by!r} started this request and may not work on it (separation of duties)")
        users = [u for u in users if u != started_by]
        assignee = None if assignee == started_by else assignee
    if not groups and not users:
        default = info.get("default_group")
        groups, source = ([default], "process_default") if default else ([default_group], "default")
    elif not groups:
        source = "candidate_users"
    meant_for = None
    if assignee:
        substitute = effective_assignee(session, assignee, today)
        meant_for, assignee = (assignee, substitute) if substitute != assignee else (None, assignee)
        if meant_for and assignee == started_by and (info.get("separation") or {}).get("initiator"):
            warnings.append(
                f"{started_by!r} stands in for {meant_for} but started this request; the task stays with its candidates"
            )
            meant_for, assignee = None, None
        elif (
            meant_for
            and any((info.get("separation") or {}).values())
            and not _offered_to(session, assignee, groups, users)
        ):
            warnings.append(
                f"{assignee!r} stands in for {meant_for} but is not among the task's candidates, and the request is "
                "under separation of duties; the task stays with its candidates"
            )
            meant_for, assignee = None, None
    for warning in warnings:
        log.warning("task %s: %s", info.get("element_id"), warning)
    return Offer(groups, users, assignee, source, warnings, meant_for)


def _values(
    info: dict[str, Any], variables: dict[str, Any], time_limit: float, warnings: list[str]
) -> dict[str, list[str]]:
    """Static and evaluated names per field; an expression that fails gives none and a warning."""
    static = {
        "candidate_groups": list(info.get("candidate_groups") or []),
        "candidate_users": list(info.get("candidate_users") or []),
        "assignee": [info["assignee"]] if info.get("assignee") else [],
    }
    for key, expression in (info.get("expressions") or {}).items():
        try:
            value = SandboxedEnvironment(time_limit=time_limit).evaluate(expression, dict(variables))
        except Exception as err:  # noqa: BLE001 - a bad assignment must not stop the process; it is reported
            warnings.append(f"{key.replace('_', ' ')} {expression!r} could not be evaluated: {err}")
            continue
        found = names(value)
        if key == "assignee" and len(found) > 1:
            warnings.append(f"assignee {expression!r} gave several names; the task is offered to them instead")
            static["candidate_users"] += found
            continue
        if not found and value not in (None, "", []):
            warnings.append(f"{key.replace('_', ' ')} {expression!r} gave {type(value).__name__}, not names")
        static[key] = static[key] + found
    return static


def _offered_to(session: Session, username: str, groups: list[str], users: list[str]) -> bool:
    return username in users or in_groups(session, username, groups)


def in_groups(session: Session, username: str, groups: list[str]) -> bool:
    """`username` is a member of one of `groups`."""
    user = session.scalars(select(User).where(User.username == username)).first()
    return user is not None and bool({g.name for g in user.groups} & set(groups))


def _active(session: Session, usernames: list[str]) -> set[str]:
    return set(
        session.scalars(select(User.username).where(User.username.in_(sorted(set(usernames))), User.active.is_(True)))
    )


# ---------------------------------------------------------------- who may work a task


def in_my_groups(actor: Actor) -> ColumnElement[bool]:
    """SQL: the actor is a candidate of the task: one of their groups, or they by name (candidate users)."""
    named = exists().where(TaskUser.task_id == HumanTask.id, TaskUser.username == actor.username)
    if not actor.groups:
        return named
    return or_(exists().where(TaskGroup.task_id == HumanTask.id, TaskGroup.group_name.in_(sorted(actor.groups))), named)


def is_candidate(actor: Actor, task: HumanTask) -> bool:
    """The actor is in one of the task's groups or one of its candidate users."""
    return bool(set(task.candidate_groups) & actor.groups) or actor.username in (task.candidate_users or [])


def may_complete(actor: Actor, task: HumanTask) -> bool:
    """Candidates of the task (its groups' members, its candidate users), its assignee and admins may complete it."""
    if allowed(actor, "task.complete_any"):
        return True
    if task.assignee is not None:
        return task.assignee == actor.username
    return is_candidate(actor, task)
