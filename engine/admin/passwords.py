"""Passwords and sign-in: hashing, checking, session users, changing a password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.admin.identity import actor_of
from engine.core.context import EngineContext
from engine.core.errors import InvalidInput
from engine.core.permissions import Actor
from engine.db.models import User
from engine.events import stream as audit

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when a user does not exist, so timing does not reveal user names."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(ctx: EngineContext, username: str, password: str) -> Actor | None:
    """The actor for a correct username and password of an active user, else None."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(
            select(User).where(User.username == username).options(selectinload(User.groups))
        ).first()
        stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active or not user.password_hash:
            return None
        return actor_of(user)


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


MIN_PASSWORD_LENGTH = 8


def check_password(password: str, errors: dict[str, str]) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
