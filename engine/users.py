"""Users, groups, passwords and API tokens.

Passwords are hashed with Argon2id. API tokens are 256 random bits shown once; only their
SHA-256 is stored (a slow hash adds nothing for a random secret of that size, and the
digest lets a request find its token through a unique index).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import audit
from engine.context import EngineContext
from engine.db.models import ApiToken, Group, User
from engine.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from engine.permissions import ROLES, Actor

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
    """The actor a bearer token stands for; raises Unauthenticated for unknown, revoked or inactive."""
    digest = token_digest(token)
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
        if row is None or row.revoked_at is not None or not row.user.active:
            raise Unauthenticated("invalid or revoked API token")
        actor = actor_of(row.user)
        stale = row.last_used_at is None or row.last_used_at < ctx.clock.now() - timedelta(minutes=1)
    if stale:
        _touch(ctx, digest)
    return actor


def _touch(ctx: EngineContext, digest: str) -> None:
    with ctx.uow() as uow:
        row = uow.session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
        if row is not None:
            row.last_used_at = ctx.clock.now()
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
