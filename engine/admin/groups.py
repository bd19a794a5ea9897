"""Groups (the BPMN lanes' people): listing, members, managers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from engine.admin.identity import UserView, invalid, view_of
from engine.core.context import EngineContext
from engine.core.errors import Conflict, NotFound
from engine.db.models import Group, User
from engine.events import stream as audit


def group_named(session: Session, name: str) -> Group:
    name = name.strip()
    group = session.scalars(select(Group).where(Group.name == name)).first()
    if group is None:
        group = Group(name=name)
        session.add(group)
    return group


@dataclass(frozen=True)
class GroupRow:
    name: str
    members: list[str]


@dataclass(frozen=True)
class GroupDetail:
    name: str
    members: list[UserView]
    candidates: list[str]  # active users outside the group, for the picker
    manager: str | None = None  # gets the group's tasks when a reassign timer fires (engine.sla.deadlines)


def _find_group(session: Session, name: str) -> Group:
    group = session.scalars(select(Group).where(Group.name == name).options(selectinload(Group.members))).first()
    if group is None:
        raise NotFound(f"group {name!r} does not exist")
    return group


def group_names(ctx: EngineContext) -> list[str]:
    """The names of all groups, sorted."""
    with ctx.uow(write=False) as uow:
        return list(uow.session.scalars(select(Group.name).order_by(Group.name)))


def list_groups(ctx: EngineContext) -> list[GroupRow]:
    """Every group, by name, with its members' usernames."""
    with ctx.uow(write=False) as uow:
        found = uow.session.scalars(select(Group).options(selectinload(Group.members)).order_by(Group.name))
        return [GroupRow(g.name, sorted(u.username for u in g.members)) for g in found]


def group_detail(ctx: EngineContext, name: str) -> GroupDetail:
    """One group with its members and the active users who could join; raises NotFound."""
    with ctx.uow(write=False) as uow:
        group = _find_group(uow.session, name)
        members = sorted((view_of(u) for u in group.members), key=lambda v: v.username)
        inside = {m.username for m in members}
        active = uow.session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username))
        return GroupDetail(group.name, members, [u for u in active if u not in inside], group.manager)


def set_group_manager(ctx: EngineContext, group: str, username: str, actor: str) -> None:
    """Name the user who gets the group's overdue tasks (empty: nobody); raises NotFound or InvalidInput."""
    username = username.strip()
    with ctx.uow() as uow:
        found = _find_group(uow.session, group)
        if (
            username
            and uow.session.scalar(select(User.id).where(User.username == username, User.active.is_(True))) is None
        ):
            raise invalid({"manager": f"There is no active user {username!r}."})
        found.manager = username or None
        audit.record(
            uow.session,
            "group_manager_set",
            ctx.clock.now(),
            actor=actor,
            data={"group": found.name, "manager": found.manager},
        )
        uow.commit()


def add_group(ctx: EngineContext, name: str, actor: str) -> GroupRow:
    """Create a group (a BPMN lane name such as "IT Manager"); raises InvalidInput or Conflict."""
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise invalid({"name": "Use 1-120 characters."})
    with ctx.uow() as uow:
        taken = uow.session.scalar(select(Group.name).where(func.lower(Group.name) == name.lower()))
        if taken is not None:
            raise Conflict(f"group {taken!r} already exists", {"fields": {"name": f"{taken!r} exists already."}})
        uow.session.add(Group(name=name))
        audit.record(uow.session, "group_created", ctx.clock.now(), actor=actor, data={"group": name})
        uow.commit()
    return GroupRow(name, [])


def add_member(ctx: EngineContext, group: str, username: str, actor: str) -> None:
    """Put a user into a group; raises NotFound (group), InvalidInput (no such user) or Conflict (a member)."""
    username = username.strip()
    with ctx.uow() as uow:
        found = _find_group(uow.session, group)
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise invalid({"username": f"There is no user {username!r}." if username else "Enter a user name."})
        if user in found.members:
            raise Conflict(f"{username} is in {group} already", {"fields": {"username": "Already a member."}})
        found.members.append(user)
        audit.record(
            uow.session, "group_member_added", ctx.clock.now(), actor=actor, data={"group": group, "username": username}
        )
        uow.commit()
    ctx.tokens.clear()


def remove_member(ctx: EngineContext, group: str, username: str, actor: str) -> None:
    """Take a user out of a group; raises NotFound (group or membership)."""
    with ctx.uow() as uow:
        found = _find_group(uow.session, group)
        member = next((u for u in found.members if u.username == username), None)
        if member is None:
            raise NotFound(f"{username!r} is not a member of {group!r}")
        found.members.remove(member)
        audit.record(
            uow.session,
            "group_member_removed",
            ctx.clock.now(),
            actor=actor,
            data={"group": group, "username": username},
        )
        uow.commit()
    ctx.tokens.clear()
