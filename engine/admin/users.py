"""Users, groups, passwords and API tokens.

Passwords are hashed with Argon2id. API tokens are 256 random bits shown once; only their
SHA-256 is stored (a slow hash adds nothing for a random secret of that size, and the
digest lets a request find its token through a unique index).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from engine.core.permissions import ROLES, Actor
from engine.db.models import ApiToken, Event, Group, GroupMember, User
from engine.events import stream as audit

TOKEN_PREFIX = "pmo_"  # noqa: S105 - a label, not a secret
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when a user does not exist, so timing does not reveal user names."""
    return _hasher.hash(secrets.token_hex(16))

DEMO_USERS: list[tuple[str, list[str], list[str]]] = [
    ("pmo", [], ["admin", "designer"]),
    ("alice", ["IT Manager"], ["approver"]),
    ("bob", ["Finance"], ["approver"]),
    ("carol", ["Security"], ["approver"]),
    ("dave", ["Operations"], ["approver"]),
    ("erin", ["PMO Director"], ["approver"]),
    ("audrey", [], ["auditor"]),
    ("intake-bot", [], ["api"]),
]


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str
    roles: list[str]
    groups: list[str]
    active: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def actor_of(user: User) -> Actor:
    return Actor(user.username, user.id, frozenset(user.roles), frozenset(g.name for g in user.groups))


def _view(user: User) -> UserView:
    return UserView(user.username, user.display_name, sorted(user.roles), sorted(g.name for g in user.groups),
                    user.active)


def create_user(
    ctx: EngineContext, username: str, password: str | None, groups: Iterable[str] = (),
    roles: Iterable[str] = ("approver",), display_name: str = "", actor: str = "system",
) -> UserView:
    """Create a user (groups are created as needed); raises InvalidInput or Conflict."""
    username = (username or "").strip()
    roles = sorted(set(roles))
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise InvalidInput("username must be 1-80 characters without spaces", {"fields": {"username": "invalid"}})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(unknown)} (roles: {', '.join(ROLES)})",
                           {"fields": {"roles": "unknown"}})
    if password is not None and len(password) < 4:
        raise InvalidInput("password must have at least 4 characters", {"fields": {"password": "too short"}})
    with ctx.uow() as uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists")
        user = User(username=username, display_name=display_name or username, roles=roles,
                    password_hash=hash_password(password) if password else None, created_at=ctx.clock.now())
        user.groups = [_group(session, g) for g in groups]
        session.add(user)
        session.flush()
        audit.record(session, "user_created", ctx.clock.now(), actor=actor,
                     data={"username": username, "roles": roles, "groups": sorted(groups)})
        view = _view(user)
        uow.commit()
        return view


def _group(session: Session, name: str) -> Group:
    name = name.strip()
    group = session.scalars(select(Group).where(Group.name == name)).first()
    if group is None:
        group = Group(name=name)
        session.add(group)
    return group


def ensure_demo_users(ctx: EngineContext, password: str = "demo") -> list[str]:  # noqa: S107 - the demo password
    """Create the demo users that do not exist yet; returns the names created."""
    created = []
    for username, groups, roles in DEMO_USERS:
        with ctx.uow(write=False) as uow:
            exists = uow.session.scalar(select(User.id).where(User.username == username)) is not None
        if not exists:
            create_user(ctx, username, password, groups, roles)
            created.append(username)
    return created


def authenticate(ctx: EngineContext, username: str, password: str) -> Actor | None:
    """The actor for a correct username and password of an active user, else None."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)
                                   .options(selectinload(User.groups))).first()
        stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active or not user.password_hash:
            return None
        return actor_of(user)


def create_token(ctx: EngineContext, username: str, name: str = "") -> str:
    """Create an API token for a user and return it (the only time it is shown); raises NotFound."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        uow.session.add(ApiToken(user_id=user.id, name=name, token_hash=token_digest(token),
                                 created_at=ctx.clock.now()))
        audit.record(uow.session, "token_created", ctx.clock.now(), actor=username, data={"name": name})
        uow.commit()
    return token


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_for_token(ctx: EngineContext, token: str) -> Actor:
    """The actor a bearer token stands for; raises Unauthenticated for unknown, revoked or inactive.

    One query (token, user and groups joined). A valid token's actor is then reused by this
    process for `settings.token_cache_seconds` (default 5 s). Revoking a token, deactivating
    a user or changing a user's roles or groups clears this process's cache at once; other
    processes (gunicorn workers) see the change at the latest when that time is up.
    """
    digest = token_digest(token)
    now = ctx.clock.now()
    cached: Actor | None = ctx.tokens.get(digest, now)
    if cached is not None:
        return cached
    query = (
        select(ApiToken.id.label("token_id"), ApiToken.revoked_at, ApiToken.last_used_at, User.id.label("user_id"),
               User.username, User.roles, User.active, Group.name.label("group"))
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(GroupMember, GroupMember.user_id == User.id).outerjoin(Group, Group.id == GroupMember.group_id)
        .where(ApiToken.token_hash == digest)
    )
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(query).all()
    if not rows or rows[0].revoked_at is not None or not rows[0].active:
        raise Unauthenticated("invalid or revoked API token")
    first = rows[0]
    actor = Actor(first.username, first.user_id, frozenset(first.roles),
                  frozenset(r.group for r in rows if r.group is not None), token_id=first.token_id)
    if first.last_used_at is None or first.last_used_at < now - timedelta(minutes=1):
        _touch(ctx, first.token_id)
    ctx.tokens.put(digest, actor, now)
    return actor


def _touch(ctx: EngineContext, token_id: int) -> None:
    """Record when a token was last used (to the minute: at most one write per token and minute)."""
    with ctx.uow() as uow:
        uow.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=ctx.clock.now()))
        uow.commit()


def get_user(ctx: EngineContext, username: str) -> UserView:
    """One user; raises NotFound."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        return _view(user)


@dataclass(frozen=True)
class SessionUser:
    actor: Actor
    epoch: int
    display_name: str


def session_user(ctx: EngineContext, user_id: int, epoch: int) -> SessionUser | None:
    """The user behind a browser session, or None if inactive or the session was revoked."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.id == user_id).options(selectinload(User.groups))).first()
        if user is None or not user.active or user.session_epoch != epoch:
            return None
        return SessionUser(actor_of(user), user.session_epoch, user.display_name or user.username)


def login(ctx: EngineContext, username: str, password: str, remote: str | None) -> SessionUser | None:
    """Check a password; records a failed attempt as an event. Returns the session user or None."""
    who = authenticate(ctx, username, password)
    with ctx.uow() as uow:
        if who is None:
            audit.record(uow.session, "login_failed", ctx.clock.now(), actor=username[:80], data={"remote": remote})
            uow.commit()
            return None
        user = uow.session.get(User, who.user_id)
        assert user is not None
        audit.record(uow.session, "login", ctx.clock.now(), actor=user.username, data={"remote": remote})
        uow.commit()
        return SessionUser(who, user.session_epoch, user.display_name or user.username)


def change_password(ctx: EngineContext, username: str, current: str, new: str) -> None:
    """Change one's own password; signs out every other session. Raises InvalidInput."""
    if authenticate(ctx, username, current) is None:
        raise InvalidInput("the current password is wrong", {"fields": {"current": "wrong password"}})
    if len(new) < 8:
        raise InvalidInput("the new password needs at least 8 characters", {"fields": {"new": "too short"}})
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).one()
        user.password_hash = hash_password(new)
        user.session_epoch += 1
        audit.record(uow.session, "password_changed", ctx.clock.now(), actor=username, data={})
        uow.commit()


def deactivate(ctx: EngineContext, username: str, actor: str) -> None:
    """Deactivate a user: their sessions end and their API tokens are revoked. Raises NotFound."""
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        user.active = False
        user.session_epoch += 1
        now = ctx.clock.now()
        for token in uow.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                                ApiToken.revoked_at.is_(None))):
            token.revoked_at = now
        audit.record(uow.session, "user_deactivated", now, actor=actor, data={"username": username})
        uow.commit()
    ctx.tokens.clear()


# --- Administration: the services behind the admin pages ------------------------------------
# Each takes plain values and the acting admin's username, validates every field it is given
# (InvalidInput details map field -> message), and changes state in one unit of work with its
# event. Events never carry passwords or tokens.

USERNAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,79}")
MIN_PASSWORD_LENGTH = 8


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


@dataclass(frozen=True)
class TokenRow:
    """An API token's metadata; the secret itself is never kept."""

    id: str
    username: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class UserDetail:
    user: UserRow
    tokens: list[TokenRow]
    all_groups: list[str]


@dataclass(frozen=True)
class GroupRow:
    name: str
    members: list[str]


@dataclass(frozen=True)
class GroupDetail:
    name: str
    members: list[UserView]
    candidates: list[str]       # active users outside the group, for the picker
    manager: str | None = None  # gets the group's tasks when a reassign timer fires (engine.sla.deadlines)


@dataclass(frozen=True)
class TokenOverview:
    tokens: list[TokenRow]
    usernames: list[str]        # active users, for the picker


@dataclass(frozen=True)
class IssuedToken:
    token: str                  # the secret: returned once, stored only as its SHA-256
    row: TokenRow


def _invalid(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput("; ".join(f"{name}: {message}" for name, message in fields.items()), {"fields": fields})


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


def _check_password(password: str, errors: dict[str, str]) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."


def _find_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)
                           .options(selectinload(User.groups))).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def _find_group(session: Session, name: str) -> Group:
    group = session.scalars(select(Group).where(Group.name == name).options(selectinload(Group.members))).first()
    if group is None:
        raise NotFound(f"group {name!r} does not exist")
    return group


def _last_sign_ins(session: Session, usernames: list[str] | None = None) -> dict[str, datetime]:
    query = select(Event.actor, func.max(Event.occurred_at)).where(Event.type == "login")
    if usernames is not None:
        query = query.where(Event.actor.in_(usernames))
    return {actor: at for actor, at in session.execute(query.group_by(Event.actor)) if actor}


def _row(user: User, last_sign_in: datetime | None) -> UserRow:
    return UserRow(user.username, user.display_name or user.username, user.email or "", sorted(user.roles),
                   sorted(g.name for g in user.groups), user.active, user.created_at, last_sign_in)


def _token_row(token: ApiToken) -> TokenRow:
    return TokenRow(token.uuid, token.user.username, token.name, token.created_at, token.last_used_at,
                    token.revoked_at)


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
        tokens = uow.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                     .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
        groups = uow.session.scalars(select(Group.name).order_by(Group.name))
        return UserDetail(_row(user, _last_sign_ins(uow.session, [username]).get(username)),
                          [_token_row(t) for t in tokens], list(groups))


def group_names(ctx: EngineContext) -> list[str]:
    """The names of all groups, sorted."""
    with ctx.uow(write=False) as uow:
        return list(uow.session.scalars(select(Group.name).order_by(Group.name)))


def add_user(
    ctx: EngineContext, username: str, display_name: str, email: str, password: str,
    roles: Iterable[str], groups: Iterable[str], actor: str,
) -> UserRow:
    """Create a user in existing groups; raises InvalidInput (every bad field) or Conflict (name taken)."""
    username, display_name, email = username.strip(), display_name.strip(), email.strip()
    roles, groups = sorted(set(roles)), sorted(set(groups))
    errors: dict[str, str] = {}
    if not USERNAME_RULE.fullmatch(username):
        errors["username"] = "Use 1-80 letters, digits and . _ @ + - (starting with a letter or digit)."
    _check_profile(display_name, email, roles, errors)
    _check_password(password, errors)
    with ctx.uow() as uow:
        session = uow.session
        found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(groups)))}
        if missing := [g for g in groups if g not in found]:
            errors["groups"] = f"No such group: {', '.join(missing)}."
        if errors:
            raise _invalid(errors)
        if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
            raise Conflict(f"user {username!r} already exists", {"fields": {"username": "This name is taken."}})
        now = ctx.clock.now()
        user = User(username=username, display_name=display_name or username, email=email or None, roles=roles,
                    password_hash=hash_password(password), created_at=now, active=True, session_epoch=0)
        user.groups = [found[g] for g in groups]
        session.add(user)
        session.flush()
        audit.record(session, "user_created", now, actor=actor,
                     data={"username": username, "roles": roles, "groups": groups})
        row = _row(user, None)
        uow.commit()
        return row


def update_user(
    ctx: EngineContext, username: str, display_name: str, email: str, roles: Iterable[str], actor: str,
) -> UserRow:
    """Change a user's display name, e-mail and roles; an admin keeps their own admin role.

    Raises NotFound or InvalidInput. Role changes apply from the user's next request.
    """
    display_name, email, roles = display_name.strip(), email.strip(), sorted(set(roles))
    errors: dict[str, str] = {}
    _check_profile(display_name, email, roles, errors)
    if username == actor and "admin" not in roles:
        errors["roles"] = "You can not remove your own admin role. Ask another admin."
    with ctx.uow() as uow:
        user = _find_user(uow.session, username)
        if errors:
            raise _invalid(errors)
        now = ctx.clock.now()
        before = sorted(user.roles)
        if before != roles:
            user.roles = roles
            audit.record(uow.session, "roles_changed", now, actor=actor,
                         data={"username": username, "before": before, "after": roles})
        changed = {k: v for k, v in (("display_name", display_name or username), ("email", email or None))
                   if getattr(user, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(user, key, value)
            audit.record(uow.session, "user_updated", now, actor=actor, data={"username": username, **changed})
        row = _row(user, None)
        uow.commit()
    ctx.tokens.clear()                         # roles of cached API actors
    return row


def reset_password(ctx: EngineContext, username: str, password: str, actor: str) -> None:
    """Set a user's password and end their sessions; raises NotFound or InvalidInput."""
    errors: dict[str, str] = {}
    _check_password(password, errors)
    if errors:
        raise _invalid(errors)
    with ctx.uow() as uow:
        user = _find_user(uow.session, username)
        user.password_hash = hash_password(password)
        user.session_epoch += 1
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
        user.active = True
        audit.record(uow.session, "user_reactivated", ctx.clock.now(), actor=actor, data={"username": username})
        uow.commit()
        return True


def list_groups(ctx: EngineContext) -> list[GroupRow]:
    """Every group, by name, with its members' usernames."""
    with ctx.uow(write=False) as uow:
        found = uow.session.scalars(select(Group).options(selectinload(Group.members)).order_by(Group.name))
        return [GroupRow(g.name, sorted(u.username for u in g.members)) for g in found]


def group_detail(ctx: EngineContext, name: str) -> GroupDetail:
    """One group with its members and the active users who could join; raises NotFound."""
    with ctx.uow(write=False) as uow:
        group = _find_group(uow.session, name)
        members = sorted((_view(u) for u in group.members), key=lambda v: v.username)
        inside = {m.username for m in members}
        active = uow.session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username))
        return GroupDetail(group.name, members, [u for u in active if u not in inside], group.manager)


def set_group_manager(ctx: EngineContext, group: str, username: str, actor: str) -> None:
    """Name the user who gets the group's overdue tasks (empty: nobody); raises NotFound or InvalidInput."""
    username = username.strip()
    with ctx.uow() as uow:
        found = _find_group(uow.session, group)
        if username and uow.session.scalar(select(User.id).where(User.username == username,
                                                                 User.active.is_(True))) is None:
            raise _invalid({"manager": f"There is no active user {username!r}."})
        found.manager = username or None
        audit.record(uow.session, "group_manager_set", ctx.clock.now(), actor=actor,
                     data={"group": found.name, "manager": found.manager})
        uow.commit()


def add_group(ctx: EngineContext, name: str, actor: str) -> GroupRow:
    """Create a group (a BPMN lane name such as "IT Manager"); raises InvalidInput or Conflict."""
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise _invalid({"name": "Use 1-120 characters."})
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
            raise _invalid({"username": f"There is no user {username!r}." if username else "Enter a user name."})
        if user in found.members:
            raise Conflict(f"{username} is in {group} already", {"fields": {"username": "Already a member."}})
        found.members.append(user)
        audit.record(uow.session, "group_member_added", ctx.clock.now(), actor=actor,
                     data={"group": group, "username": username})
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
        audit.record(uow.session, "group_member_removed", ctx.clock.now(), actor=actor,
                     data={"group": group, "username": username})
        uow.commit()
    ctx.tokens.clear()


def token_overview(ctx: EngineContext) -> TokenOverview:
    """Every API token, newest first, and the active users one can be made for."""
    with ctx.uow(write=False) as uow:
        tokens = uow.session.scalars(select(ApiToken).options(selectinload(ApiToken.user))
                                     .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
        rows = [_token_row(t) for t in tokens]
        active = uow.session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username))
        return TokenOverview(rows, list(active))


def issue_token(ctx: EngineContext, username: str, label: str, actor: str) -> IssuedToken:
    """Create an API token for an active user; the secret is in the result only. Raises InvalidInput."""
    username, label = username.strip(), label.strip()
    errors: dict[str, str] = {}
    if len(label) > 120:
        errors["label"] = "Use at most 120 characters."
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            errors["username"] = f"There is no user {username!r}." if username else "Enter a user name."
        elif not user.active:
            errors["username"] = f"{username} is deactivated; reactivate them first."
        if errors:
            raise _invalid(errors)
        assert user is not None
        now = ctx.clock.now()
        row = ApiToken(user_id=user.id, name=label, token_hash=token_digest(token), created_at=now, user=user)
        uow.session.add(row)
        uow.session.flush()
        audit.record(uow.session, "token_created", now, actor=actor,
                     data={"username": username, "name": label, "token_id": row.uuid})
        issued = IssuedToken(token, _token_row(row))
        uow.commit()
        return issued


def revoke_token(ctx: EngineContext, token_id: str, actor: str) -> TokenRow:
    """Revoke an API token at once; raises NotFound or Conflict (revoked already)."""
    with ctx.uow() as uow:
        row = uow.session.scalars(select(ApiToken).where(ApiToken.uuid == token_id)).first()
        if row is None:
            raise NotFound(f"token {token_id!r} does not exist")
        if row.revoked_at is not None:
            raise Conflict(f"token {row.name or token_id!r} is revoked already")
        row.revoked_at = ctx.clock.now()
        audit.record(uow.session, "token_revoked", row.revoked_at, actor=actor,
                     data={"username": row.user.username, "name": row.name, "token_id": row.uuid})
        revoked = _token_row(row)
        uow.commit()
    ctx.tokens.clear()                         # this process stops accepting it now, others within the cache time
    return revoked
