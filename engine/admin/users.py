"""Users: accounts, profiles, roles, demo users, deactivation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from engine.admin import sessions
from engine.admin.deactivation import deactivate_in, reactivate_in
from engine.admin.groups import group_named
from engine.admin.identity import UserView, invalid, view_of
from engine.admin.passwords import SYSTEM, check_password, hash_password
from engine.admin.tokens import TokenRow, token_row
from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import ROLES, SYSTEM_ROLES
from engine.db.models import ApiToken, Event, Group, User
from engine.events import stream as audit

DEMO_USERS: list[tuple[str, list[str], list[str]]] = [
    ("pmo", [], ["admin", "designer"]),
    ("alice", ["IT Manager"], ["approver"]),
    ("frank", ["IT Manager"], ["approver"]),  # a second IT Manager: decides what alice requested herself
    ("bob", ["Finance"], ["approver"]),
    ("carol", ["Security"], ["approver"]),
    ("dave", ["Operations"], ["approver"]),
    ("erin", ["PMO Director"], ["approver"]),
    ("audrey", [], ["auditor"]),
    ("intake-bot", [], ["api"]),
]


def create_user(
    ctx: EngineContext,
    username: str,
    password: str | None,
    groups: Iterable[str] = (),
    roles: Iterable[str] = ("approver",),
    display_name: str = "",
    actor: str = "system",
    system: bool = False,
) -> UserView:
    """Create a user (groups are created as needed); raises InvalidInput or Conflict.

    A `system` account exists for API tokens only: it has no password and cannot sign in to the web UI."""
    username = (username or "").strip()
    roles = sorted(set(roles))
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise InvalidInput("username must be 1-80 characters without spaces", {"fields": {"username": "invalid"}})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(
            f"unknown roles: {', '.join(unknown)} (roles: {', '.join(ROLES)})", {"fields": {"roles": "unknown"}}
        )
    if system and password:
        raise InvalidInput("a system account has no password", {"fields": {"password": "not for a system account"}})
    if password is not None and len(password) < 4:
        raise InvalidInput("password must have at least 4 characters", {"fields": {"password": "too short"}})
    with ctx.uow() as uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists")
        user = User(
            username=username,
            display_name=display_name or username,
            roles=roles,
            password_hash=hash_password(password) if password else None,
            created_at=ctx.clock.now(),
            kind=SYSTEM if system else "person",
        )
        user.groups = [group_named(session, g) for g in groups]
        session.add(user)
        session.flush()
        audit.record(
            session,
            "user_created",
            ctx.clock.now(),
            actor=actor,
            data={"username": username, "roles": roles, "groups": sorted(groups), "kind": user.kind},
        )
        view = view_of(user)
        uow.commit()
        return view


def ensure_demo_users(ctx: EngineContext, password: str = "demo") -> list[str]:  # noqa: S107 - the demo password
    """Create the demo users that do not exist yet; returns the names created. The ones with only system
    roles (intake-bot) are system accounts: API tokens only, no password."""
    created = []
    for username, groups, roles in DEMO_USERS:
        with ctx.uow(write=False) as uow:
            exists = uow.session.scalar(select(User.id).where(User.username == username)) is not None
        if not exists:
            system = set(roles) <= SYSTEM_ROLES
            create_user(ctx, username, None if system else password, groups, roles, system=system)
            created.append(username)
    return created


def get_user(ctx: EngineContext, username: str) -> UserView:
    """One user; raises NotFound."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        return view_of(user)


def deactivate(ctx: EngineContext, username: str, actor: str) -> None:
    """Deactivate a user: their sessions end, their API tokens are revoked and their open tasks go back to
    their groups (engine.admin.deactivation). Raises NotFound."""
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        deactivate_in(uow.session, user, actor, ctx.clock.now())
        uow.commit()
    ctx.tokens.clear()


USERNAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,79}")


@dataclass(frozen=True)
class UserRow:
    """A user as the admin pages show it."""

    username: str
    display_name: str
    email: str
    roles: list[str]
    groups: list[str]
    active: bool
    created_at: datetime
    last_sign_in: datetime | None
    kind: str = "person"  # or "system": API tokens only, no password, no web sign-in


@dataclass(frozen=True)
class UserDetail:
    user: UserRow
    tokens: list[TokenRow]
    all_groups: list[str]


def _check_profile(display_name: str, email: str, roles: list[str], errors: dict[str, str]) -> None:
    if len(display_name) > 200:
        errors["display_name"] = "Use at most 200 characters."
    if email and (len(email) > 254 or any(c.isspace() for c in email) or not re.fullmatch(r"[^@]+@[^@]+", email)):
        errors["email"] = "Enter an e-mail address like name@example.org, or leave it empty."
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        errors["roles"] = f"Unknown roles: {', '.join(unknown)}. Roles are {', '.join(ROLES)}."
    elif not roles:
        errors["roles"] = "Choose at least one role."


def _find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username).options(selectinload(User.groups))).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def _last_sign_ins(session: Session, usernames: list[str] | None = None) -> dict[str, datetime]:
    query = select(Event.actor, func.max(Event.occurred_at)).where(Event.type == "login")
    if usernames is not None:
        query = query.where(Event.actor.in_(usernames))
    return {actor: at for actor, at in session.execute(query.group_by(Event.actor)) if actor}


def _row(user: User, last_sign_in: datetime | None) -> UserRow:
    return UserRow(
        user.username,
        user.display_name or user.username,
        user.email or "",
        sorted(user.roles),
        sorted(g.name for g in user.groups),
        user.active,
        user.created_at,
        last_sign_in,
        user.kind,
    )


def list_users(ctx: EngineContext) -> list[UserRow]:
    """Every user, by username, with roles, groups and the last sign-in."""
    with ctx.uow(write=False) as uow:
        last = _last_sign_ins(uow.session)
        found = uow.session.scalars(select(User).options(selectinload(User.groups)).order_by(User.username))
        return [_row(user, last.get(user.username)) for user in found]


def user_detail(ctx: EngineContext, username: str) -> UserDetail:
    """One user with their API tokens and the groups there are; raises NotFound."""
    with ctx.uow(write=False) as uow:
        user = _find_user(uow.session, username)
        tokens = uow.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
        groups = uow.session.scalars(select(Group.name).order_by(Group.name))
        return UserDetail(
            _row(user, _last_sign_ins(uow.session, [username]).get(username)),
            [token_row(t) for t in tokens],
            list(groups),
        )


def add_user(
    ctx: EngineContext,
    username: str,
    display_name: str,
    email: str,
    password: str,
    roles: Iterable[str],
    groups: Iterable[str],
    actor: str,
    system: bool = False,
) -> UserRow:
    """Create a user in existing groups; raises InvalidInput (every bad field) or Conflict (name taken).

    A `system` account gets no password (giving one is an error) and cannot sign in to the web UI."""
    username, display_name, email = username.strip(), display_name.strip(), email.strip()
    roles, groups = sorted(set(roles)), sorted(set(groups))
    errors: dict[str, str] = {}
    if not USERNAME_RULE.fullmatch(username):
        errors["username"] = "Use 1-80 letters, digits and . _ @ + - (starting with a letter or digit)."
    _check_profile(display_name, email, roles, errors)
    if system and password:
        errors["password"] = "A system account has no password: it uses API tokens only."  # noqa: S105
    elif not system:
        check_password(password, errors)
    with ctx.uow() as uow:
        session = uow.session
        found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(groups)))}
        if missing := [g for g in groups if g not in found]:
            errors["groups"] = f"No such group: {', '.join(missing)}."
        if errors:
            raise invalid(errors)
        if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
            raise Conflict(f"user {username!r} already exists", {"fields": {"username": "This name is taken."}})
        now = ctx.clock.now()
        user = User(
            username=username,
            display_name=display_name or username,
            email=email or None,
            roles=roles,
            password_hash=None if system else hash_password(password),
            created_at=now,
            active=True,
            kind=SYSTEM if system else "person",
        )
        user.groups = [found[g] for g in groups]
        session.add(user)
        session.flush()
        audit.record(
            session,
            "user_created",
            now,
            actor=actor,
            data={"username": username, "roles": roles, "groups": groups, "kind": user.kind},
        )
        row = _row(user, None)
        uow.commit()
        return row


def update_user(
    ctx: EngineContext,
    username: str,
    display_name: str,
    email: str,
    roles: Iterable[str],
    actor: str,
    system: bool | None = None,
) -> UserRow:
    """Change a user's display name, e-mail, roles and (unless `system` is None) kind; an admin keeps
    their own admin role and stays a person. Making a user a system account removes their password
    and ends their sessions. Raises NotFound or InvalidInput. Role changes apply from the next request.
    """
    display_name, email, roles = display_name.strip(), email.strip(), sorted(set(roles))
    errors: dict[str, str] = {}
    _check_profile(display_name, email, roles, errors)
    if username == actor and "admin" not in roles:
        errors["roles"] = "You can not remove your own admin role. Ask another admin."
    if username == actor and system:
        errors["system"] = "You can not make yourself a system account: you could not sign in any more."
    with ctx.uow() as uow:
        user = _find_user(uow.session, username)
        if errors:
            raise invalid(errors)
        now = ctx.clock.now()
        before = sorted(user.roles)
        if before != roles:
            user.roles = roles
            audit.record(
                uow.session,
                "roles_changed",
                now,
                actor=actor,
                data={"username": username, "before": before, "after": roles},
            )
        changed = {
            k: v
            for k, v in (("display_name", display_name or username), ("email", email or None))
            if getattr(user, k) != v
        }
        kind = user.kind if system is None else SYSTEM if system else "person"
        if kind != user.kind:
            changed["kind"] = user.kind = kind
            if kind == SYSTEM:
                user.password_hash = None
                sessions.end_all_in(uow.session, user.id, "system_account", now)
        if changed:
            for key, value in changed.items():
                setattr(user, key, value)
            audit.record(uow.session, "user_updated", now, actor=actor, data={"username": username, **changed})
        row = _row(user, None)
        uow.commit()
    ctx.tokens.clear()  # roles of cached API actors
    return row


def reset_password(ctx: EngineContext, username: str, password: str, actor: str) -> None:
    """Set a user's password and end their sessions; raises NotFound or InvalidInput."""
    errors: dict[str, str] = {}
    check_password(password, errors)
    if errors:
        raise invalid(errors)
    with ctx.uow() as uow:
        user = _find_user(uow.session, username)
        if user.kind == SYSTEM:
            raise invalid({"password": f"{username} is a system account: it has no password, only API tokens."})
        user.password_hash = hash_password(password)
        sessions.end_all_in(uow.session, user.id, "password_reset", ctx.clock.now())
        audit.record(uow.session, "password_reset", ctx.clock.now(), actor=actor, data={"username": username})
        uow.commit()


def deactivate_user(ctx: EngineContext, username: str, actor: str) -> None:
    """`deactivate`, except that nobody deactivates themselves; raises InvalidInput or NotFound."""
    if username == actor:
        raise InvalidInput("You can not deactivate yourself. Ask another admin.")
    deactivate(ctx, username, actor)


def reactivate_user(ctx: EngineContext, username: str, actor: str) -> bool:
    """Let a deactivated user sign in again (their revoked tokens stay revoked).

    Returns False if the user was active already. Raises NotFound.
    """
    with ctx.uow() as uow:
        user = _find_user(uow.session, username)
        if user.active:
            return False
        reactivate_in(uow.session, user, actor, ctx.clock.now())
        uow.commit()
        return True
