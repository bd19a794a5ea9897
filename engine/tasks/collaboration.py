"""Working together on tasks: delegate, reassign, out-of-office substitutes.

Rules, decided once:

- **Who may hand a task on** (delegate or reassign): an admin; the task's assignee; the
  owner of a delegated task (to take it back or send it elsewhere); and, for a task nobody
  has taken yet, a member of one of its groups. The task must be open.
- **Delegate** keeps the responsibility with the owner: `owner` is the original assignee
  (or, for an unassigned task, the delegator), `assignee` is the delegate, who may be any
  active user allowed to work tasks, also outside the task's groups. The delegate completes
  the task on the owner's behalf (`task_completed` carries `on_behalf_of`). Delegating
  again keeps the first owner; delegating back to the owner ends the delegation.
- **Reassign** hands the task over for good: the new assignee works it as themselves and
  the owner is cleared. Only admins may reassign outside the task's groups; others reassign
  to a member of one of its groups (or delegate).
- **Out of office**: a user names a substitute for a date range (dates of the injected
  clock, UTC). While it is active, `effective_assignee` sends tasks that would be assigned
  to that user personally (delegation, reassignment, approval patterns naming an approver)
  to the substitute, following a substitute's own substitute. Group tasks stay with the
  group (the other members see them), and tasks assigned before the absence stay where
  they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from engine.core import bounds
from engine.core.context import EngineContext
from engine.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.core.permissions import PERMISSIONS, Actor, allowed, require
from engine.core.records import TaskView
from engine.db.models import Group, HumanTask, ProcessInstance, Substitute, User
from engine.db.statements import load_instance
from engine.db.uow import rows_changed
from engine.events import stream as audit
from engine.runtime.instances import check_can_see
from engine.tasks.approvals import barred, delegation_chain, has_duties, meta_of
from engine.tasks.candidates import in_groups, is_candidate
from engine.tasks.substitutes import effective_assignee

REASON_LIMIT = 2000
MAX_ABSENCE_DAYS = 366
WORKING_ROLES = PERMISSIONS["task.delegate"]

__all__ = [
    "effective_assignee",
    "delegate",
    "reassign",
    "may_hand_over",
    "out_of_office",
    "set_out_of_office",
    "clear_out_of_office",
    "colleagues",
    "receivers",
    "away_on",
    "people",
    "request_target",
]


# ---------------------------------------------------------------- the target of a comment or attachment


def request_target(
    session: Session,
    actor: Actor,
    instance_id: str | None,
    task_id: str | None,
) -> tuple[ProcessInstance, HumanTask | None]:
    """The instance (and task) a comment or attachment is about; raises NotFound, Forbidden, InvalidInput."""
    task: HumanTask | None = None
    if task_id:
        task = session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).first()
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        instance = session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.id == task.instance_id)
            .options(joinedload(ProcessInstance.definition))
        ).one()
        if instance_id and instance.uuid != instance_id:
            raise InvalidInput("the task belongs to another request", {"fields": {"task": "not of this request"}})
    elif instance_id:
        instance = load_instance(session, instance_id)
    else:
        raise InvalidInput("name a request or a task", {"fields": {"instance": "required"}})
    check_can_see(session, actor, instance)
    return instance, task


# ---------------------------------------------------------------- substitutes


@dataclass(frozen=True)
class OutOfOffice:
    substitute: str
    starts_on: date
    ends_on: date
    active: bool


@dataclass(frozen=True)
class Away:
    """Someone out of office today: until when, their substitute, and who receives a task meant for them
    (the substitute, or the substitute's own substitute: `effective_assignee`)."""

    username: str
    until: date
    substitute: str
    receiver: str


@dataclass(frozen=True)
class People:
    """What a person picker offers: who may receive tasks, and who of them is away today."""

    names: list[str]
    away: dict[str, Away]


@dataclass(frozen=True)
class OutOfOfficeForm:
    current: OutOfOffice | None  # the actor's current or next absence
    colleagues: list[str]  # who may be named substitute
    away: dict[str, Away] = field(default_factory=dict)  # of them, who is away today


def out_of_office(ctx: EngineContext, actor: Actor) -> OutOfOfficeForm:
    """The actor's current or next absence, if any, and the users who could stand in; raises Forbidden."""
    require(actor, "substitute.set_own")
    today = ctx.clock.now().date()
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(
            select(Substitute)
            .where(Substitute.username == actor.username, Substitute.ends_on >= today)
            .order_by(Substitute.starts_on, Substitute.id.desc())
            .limit(1)
        ).first()
        return OutOfOfficeForm(
            _absence(row, today) if row else None,
            [c for c in colleagues(uow.session) if c != actor.username],
            away_on(uow.session, today),
        )


def _absence(row: Substitute, today: date) -> OutOfOffice:
    return OutOfOffice(row.substitute, row.starts_on, row.ends_on, row.starts_on <= today <= row.ends_on)


def set_out_of_office(
    ctx: EngineContext,
    actor: Actor,
    substitute: str,
    starts_on: date | str | None,
    ends_on: date | str | None,
) -> OutOfOffice:
    """Name a substitute for a date range (replacing any earlier setting); raises InvalidInput, Forbidden."""
    require(actor, "substitute.set_own")
    errors: dict[str, str] = {}
    start = _date(starts_on, "starts_on", errors)
    end = _date(ends_on, "ends_on", errors)
    today = ctx.clock.now().date()
    if start and end and end < start:
        errors["ends_on"] = "must be on or after the first day"
    elif end and end < today:
        errors["ends_on"] = "is in the past"
    elif start and end and (end - start).days >= MAX_ABSENCE_DAYS:
        errors["ends_on"] = f"at most {MAX_ABSENCE_DAYS} days after the first day"
    substitute = (substitute or "").strip()
    with ctx.uow() as uow:
        session = uow.session
        if substitute == actor.username:
            errors["substitute"] = "choose someone else"
        elif problem := _receiver_problem(session, substitute):
            errors["substitute"] = problem
        if errors:
            raise InvalidInput("the out-of-office setting is invalid", {"fields": errors})
        assert start is not None and end is not None
        session.execute(delete(Substitute).where(Substitute.username == actor.username))
        row = Substitute(
            username=actor.username, substitute=substitute, starts_on=start, ends_on=end, created_at=ctx.clock.now()
        )
        session.add(row)
        now = ctx.clock.now()
        audit.record(
            session,
            "out_of_office_set",
            now,
            actor=actor.username,
            data={"substitute": substitute, "starts_on": start.isoformat(), "ends_on": end.isoformat()},
        )
        view = _absence(row, today)
        uow.commit()
        return view


def clear_out_of_office(ctx: EngineContext, actor: Actor) -> bool:
    """End the actor's absence now; returns False if none was set. Raises Forbidden."""
    require(actor, "substitute.set_own")
    with ctx.uow() as uow:
        deleted = uow.session.execute(delete(Substitute).where(Substitute.username == actor.username))
        if not rows_changed(deleted):
            return False
        audit.record(uow.session, "out_of_office_cleared", ctx.clock.now(), actor=actor.username, data={})
        uow.commit()
        return True


def _date(value: date | str | None, name: str, errors: dict[str, str]) -> date | None:
    if isinstance(value, date):
        return value
    if not value or not str(value).strip():
        errors[name] = "required"
        return None
    try:
        return bounds.day(str(value))
    except ValueError as err:
        errors[name] = str(err)
        return None


def _receiver_problem(session: Session, username: str) -> str | None:
    """Why `username` cannot receive a task, or None."""
    if not username:
        return "required"
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        return f"there is no user {username!r}"
    if not user.active:
        return f"{username} is deactivated"
    if not WORKING_ROLES & set(user.roles):
        return f"{username} does not work on tasks"
    return None


def colleagues(session: Session) -> list[str]:
    """Active users who may receive tasks, for the user pickers."""
    rows = session.execute(select(User.username, User.roles).where(User.active.is_(True)).order_by(User.username))
    return [name for name, roles in rows if WORKING_ROLES & set(roles or [])]


@dataclass(frozen=True)
class Receivers:
    """Whom the hand-over picker of a task offers: `names` in order, of them `candidates` (who may also be
    reassigned to it), and `note`, why the list is limited (None when it is not)."""

    names: list[str]
    candidates: set[str]
    note: str | None = None


def receivers(session: Session, actor: Actor, row: HumanTask) -> Receivers:
    """Who `actor` may hand this task on to, by the rules `_hand_over` checks: the task's candidates (its
    candidate users, the members of its groups) minus those separation of duties bars (`approvals.barred`);
    anyone who works tasks may receive a delegation when the process has no such rule, and an admin may
    also reassign to anyone then."""
    everyone = colleagues(session)
    in_groups = set(
        session.scalars(
            select(User.username).join(User.groups).where(Group.name.in_(sorted(set(row.candidate_groups))))
        )
    )
    candidates = [n for n in everyone if n in in_groups or n in (row.candidate_users or [])]
    offered = ", ".join([*(f"members of {g}" for g in row.candidate_groups), *(row.candidate_users or [])])
    meta = meta_of(row.instance, row)
    if has_duties(meta):
        kept = [n for n in candidates if barred(session, meta, row.instance, row, n) is None]
        left_out = [n for n in candidates if n not in kept]
        note = (
            f"Only the task's candidates ({offered or 'nobody'}) are listed: "
            "this request is under separation of duties."
        )
        if left_out:
            note += f" Not listed: {', '.join(left_out)}, whom its rules bar from deciding on it."
        return Receivers(kept, set(kept), note)
    if allowed(actor, "task.complete_any"):
        return Receivers(everyone, set(everyone))
    note = f"Reassign goes only to the task's candidates ({offered or 'nobody'}); the others may receive a delegation."
    return Receivers(candidates + [n for n in everyone if n not in set(candidates)], set(candidates), note)


def away_on(session: Session, today: date) -> dict[str, Away]:
    """Everyone out of office on `today`, with whom their tasks go to."""
    rows = session.scalars(
        select(Substitute)
        .where(Substitute.starts_on <= today, Substitute.ends_on >= today)
        .order_by(Substitute.username, Substitute.id.desc())
    ).all()
    found: dict[str, Away] = {}
    for row in rows:
        if row.username not in found:
            receiver = effective_assignee(session, row.username, today)
            found[row.username] = Away(row.username, row.ends_on, row.substitute, receiver)
    return found


def people(ctx: EngineContext, actor: Actor) -> People:
    """Who the actor can pick to receive a task, and who of them is away today; raises Forbidden."""
    require(actor, "task.read_own")
    with ctx.uow(write=False) as uow:
        return People(colleagues(uow.session), away_on(uow.session, ctx.clock.now().date()))


# ---------------------------------------------------------------- delegate and reassign


def may_hand_over(actor: Actor, task: HumanTask) -> bool:
    """Admins, the assignee, the owner of a delegated task, and group members of an unassigned task."""
    if task.status != "open" or not allowed(actor, "task.delegate"):
        return False
    if allowed(actor, "task.complete_any") or actor.username in (task.assignee, task.owner):
        return True
    return task.assignee is None and is_candidate(actor, task)


def delegate(ctx: EngineContext, actor: Actor, task_id: str, to: str, reason: str) -> TaskView:
    """Give a task to `to` to complete on the owner's behalf; raises NotFound, Forbidden, Conflict, InvalidInput."""
    return _hand_over(ctx, actor, task_id, to, reason, delegating=True)


def reassign(ctx: EngineContext, actor: Actor, task_id: str, to: str, reason: str) -> TaskView:
    """Move a task to `to` for good; raises NotFound, Forbidden, Conflict, InvalidInput."""
    return _hand_over(ctx, actor, task_id, to, reason, delegating=False)


def _hand_over(ctx: EngineContext, actor: Actor, task_id: str, to: str, reason: str, delegating: bool) -> TaskView:
    require(actor, "task.delegate")
    to, reason = (to or "").strip(), (reason or "").strip()
    with ctx.uow() as uow:
        session = uow.session
        row = _locked_task(session, task_id)
        if row.status != "open":
            raise Conflict(f"task {task_id} is already {row.status}")
        if not may_hand_over(actor, row):
            raise Forbidden(f"{actor.username} may not hand task {task_id} on")
        errors = _hand_over_problems(session, actor, row, to, reason, delegating)
        if errors:
            raise InvalidInput("the task was not handed on", {"fields": errors})
        now = ctx.clock.now()
        assignee = effective_assignee(session, to, now.date())
        if assignee == row.assignee:
            raise InvalidInput(f"the task is already with {assignee}", {"fields": {"to": f"already with {assignee}"}})
        before = row.assignee
        owner = (row.owner or row.assignee or actor.username) if delegating else None
        if problem := _duties_problem(session, row, to, assignee, owner):
            raise InvalidInput(f"the task was not handed on: {problem}", {"fields": {"to": problem}})
        row.assignee = assignee
        row.owner = owner if owner != assignee else None
        row.delegation_reason = reason if row.owner else None
        _record_hand_over(session, actor, row, before, to, reason, delegating, now)
        view = TaskView.of(row)
        uow.commit()
        return view


def _locked_task(session: Session, task_id: str) -> HumanTask:
    row = session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    load_instance(session, row.instance.uuid, lock=True)
    session.refresh(row)
    return row


def _hand_over_problems(
    session: Session,
    actor: Actor,
    row: HumanTask,
    to: str,
    reason: str,
    delegating: bool,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "required: say why"
    elif len(reason) > REASON_LIMIT:
        errors["reason"] = f"at most {REASON_LIMIT} characters"
    admin = allowed(actor, "task.complete_any")
    if to == actor.username and not (row.owner == actor.username or (admin and not delegating)):
        errors["to"] = "choose someone else (to work it yourself, take the task)"
    elif problem := _receiver_problem(session, to):
        errors["to"] = problem
    elif (
        not delegating
        and not admin
        and to not in (row.candidate_users or [])
        and not in_groups(session, to, row.candidate_groups)
    ):
        groups = ", ".join([*row.candidate_groups, *(row.candidate_users or [])]) or "the task's groups"
        errors["to"] = f"{to} is not in {groups}; delegate instead, or ask an admin"
    return errors


def _duties_problem(session: Session, row: HumanTask, to: str, assignee: str, owner: str | None) -> str | None:
    """Under separation of duties (engine.tasks.approvals): a task goes only to its candidates, never to
    someone a rule bars, and is not delegated on behalf of someone a rule bars (nor through them)."""
    meta = meta_of(row.instance, row)
    if not has_duties(meta):
        return None
    groups = ", ".join([*row.candidate_groups, *(row.candidate_users or [])]) or "its candidates"
    receivers = list(dict.fromkeys([to, assignee]))
    for name in receivers:
        if name not in (row.candidate_users or []) and not in_groups(session, name, row.candidate_groups):
            stands_in = f" (standing in for {to})" if name != to else ""
            return (
                f"{name}{stands_in} is not in {groups}: this request is under separation of duties, "
                "so only the task's candidates may work it"
            )
    acting = [*receivers, *([owner, *delegation_chain(session, row)] if owner else [])]
    for name in dict.fromkeys(acting):
        if (reason := barred(session, meta, row.instance, row, name)) is not None:
            if name in receivers:
                return f"{name} {reason} and may not decide on it (separation of duties)"
            return (
                f"{name} {reason}, so nobody may decide on it on their behalf (separation of duties); "
                f"reassign the task to someone in {groups}, or leave it to them"
            )
    return None


def _record_hand_over(
    session: Session,
    actor: Actor,
    row: HumanTask,
    before: str | None,
    to: str,
    reason: str,
    delegating: bool,
    now: datetime,
) -> None:
    instance = row.instance
    data: dict[str, str | None] = {"name": row.name, "from": before, "to": row.assignee, "reason": reason}
    if row.assignee != to:
        data["substitute_for"] = to
    if delegating:
        data["owner"] = row.owner
    audit.record(
        session,
        "task_delegated" if delegating else "task_reassigned",
        now,
        instance=instance,
        actor=actor.username,
        task_uuid=row.uuid,
        element_id=row.element_id,
        data=data,
    )
