"""Passwords and sign-in: hashing, checking, session users, changing a password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.admin import sessions
from engine.admin.identity import actor_of
from engine.core.context import EngineContext
from engine.core.errors import InvalidInput
from engine.core.permissions import Actor
from engine.db.models import User
from engine.events import stream as audit

_hasher = PasswordHasher()
SYSTEM = "system"  # User.kind of accounts that exist only for systems: API tokens, no password, no web sign-in


@cache
def _dummy_hash() -> str:
    """Verified against when a user does not exist, so timing does not reveal user names."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(ctx: EngineContext, username: str, password: str) -> Actor | None:
    """The actor for a correct username and password of an active person, else None (system accounts never)."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(
            select(User).where(User.username == username).options(selectinload(User.groups))
        ).first()
        stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active or not user.password_hash or user.kind == SYSTEM:
            return None
        return actor_of(user)


@dataclass(frozen=True)
class SessionUser:
    actor: Actor
    display_name: str


def login(
    ctx: EngineContext, username: str, password: str, remote: str | None, admins_only: bool = False
) -> SessionUser | None:
    """Check a password; records a failed attempt as an event. Returns the session user or None.

    `admins_only`: a right password of a user who is no admin fails too (passwords kept for break-glass
    admins beside single sign-on), recorded with that reason."""
    who = authenticate(ctx, username, password)
    reason = "passwords are for admins only" if who is not None and admins_only and not who.is_admin else None
    with ctx.uow() as uow:
        if who is None or reason is not None:
            data = {"remote": remote, **({"reason": reason} if reason else {})}
            audit.record(uow.session, "login_failed", ctx.clock.now(), actor=username[:80], data=data)
            uow.commit()
            return None
        user = uow.session.get(User, who.user_id)
        assert user is not None
        audit.record(uow.session, "login", ctx.clock.now(), actor=user.username, data={"remote": remote})
        uow.commit()
        return SessionUser(who, user.display_name or user.username)


def change_password(ctx: EngineContext, username: str, current: str, new: str) -> None:
    """Change one's own password; ends every session of the user (this one too). Raises InvalidInput."""
    if authenticate(ctx, username, current) is None:
        raise InvalidInput("the current password is wrong", {"fields": {"current": "wrong password"}})
    if len(new) < 8:
        raise InvalidInput("the new password needs at least 8 characters", {"fields": {"new": "too short"}})
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).one()
        user.password_hash = hash_password(new)
        sessions.end_all_in(uow.session, user.id, "password_changed", ctx.clock.now())
        audit.record(uow.session, "password_changed", ctx.clock.now(), actor=username, data={})
        uow.commit()


MIN_PASSWORD_LENGTH = 8


def check_password(password: str, errors: dict[str, str]) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
