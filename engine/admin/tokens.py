"""API tokens: issuing with scopes, checking (hashed, cached per process), listing and revoking.

A token carries scopes chosen when it is issued (`engine.core.permissions.SCOPES`); they narrow what
its user's roles allow and never widen it. Issued without scopes, a token gets every scope its
user's roles allow.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from engine.admin.identity import invalid
from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from engine.core.permissions import START_SCOPE, Actor, scope_problems, scopes_of_roles
from engine.db.models import ApiToken, Group, GroupMember, User
from engine.events import stream as audit

TOKEN_PREFIX = "pmo_"  # noqa: S105 - a label, not a secret


def create_token(ctx: EngineContext, username: str, name: str = "", scopes: Iterable[str] | None = None) -> str:
    """Create an API token for a user and return it (the only time it is shown); raises NotFound, InvalidInput.

    Without `scopes`, the token gets every scope the user's roles allow."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        chosen = checked_scopes(scopes, user)
        uow.session.add(
            ApiToken(
                user_id=user.id, name=name, token_hash=token_digest(token), created_at=ctx.clock.now(), scopes=chosen
            )
        )
        audit.record(
            uow.session, "token_created", ctx.clock.now(), actor=username, data={"name": name, "scopes": chosen}
        )
        uow.commit()
    return token


def scope_list(scopes: Iterable[str], start_processes: str = "") -> list[str]:
    """Scopes as chosen on a form: `start_processes` ("intake, onboarding") limits `instances:start` to those."""
    chosen = {s.strip() for s in scopes if s.strip()}
    keys = [k.strip() for k in start_processes.split(",") if k.strip()]
    if keys:
        chosen.discard(START_SCOPE)
        chosen |= {f"{START_SCOPE}:{k}" for k in keys}
    return sorted(chosen)


def checked_scopes(scopes: Iterable[str] | None, user: User) -> list[str]:
    """The scopes to store for a new token of `user`: sorted, each within the user's roles; raises InvalidInput."""
    roles = frozenset(user.roles)
    if scopes is None:
        return sorted(scopes_of_roles(roles))
    chosen = sorted({s.strip() for s in scopes if s.strip()})
    problems = scope_problems(chosen, roles) if chosen else ["choose at least one scope"]
    if problems:
        raise invalid({"scopes": "; ".join(problems)})
    return chosen


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
        select(
            ApiToken.id.label("token_id"),
            ApiToken.revoked_at,
            ApiToken.last_used_at,
            ApiToken.scopes,
            User.id.label("user_id"),
            User.username,
            User.roles,
            User.active,
            Group.name.label("group"),
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(GroupMember, GroupMember.user_id == User.id)
        .outerjoin(Group, Group.id == GroupMember.group_id)
        .where(ApiToken.token_hash == digest)
    )
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(query).all()
    if not rows or rows[0].revoked_at is not None or not rows[0].active:
        raise Unauthenticated("invalid or revoked API token")
    first = rows[0]
    actor = Actor(
        first.username,
        first.user_id,
        frozenset(first.roles),
        frozenset(r.group for r in rows if r.group is not None),
        token_id=first.token_id,
        scopes=frozenset(first.scopes or ()),
    )
    if first.last_used_at is None or first.last_used_at < now - timedelta(minutes=1):
        _touch(ctx, first.token_id)
    ctx.tokens.put(digest, actor, now)
    return actor


def _touch(ctx: EngineContext, token_id: int) -> None:
    """Record when a token was last used (to the minute: at most one write per token and minute)."""
    with ctx.uow() as uow:
        uow.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=ctx.clock.now()))
        uow.commit()


@dataclass(frozen=True)
class TokenRow:
    """An API token's metadata; the secret itself is never kept."""

    id: str
    username: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    scopes: list[str]


@dataclass(frozen=True)
class TokenOverview:
    tokens: list[TokenRow]
    usernames: list[str]  # active users, for the picker


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret: returned once, stored only as its SHA-256
    row: TokenRow


def token_row(token: ApiToken) -> TokenRow:
    return TokenRow(
        token.uuid,
        token.user.username,
        token.name,
        token.created_at,
        token.last_used_at,
        token.revoked_at,
        sorted(token.scopes or ()),
    )


def token_overview(ctx: EngineContext) -> TokenOverview:
    """Every API token, newest first, and the active users one can be made for."""
    with ctx.uow(write=False) as uow:
        tokens = uow.session.scalars(
            select(ApiToken)
            .options(selectinload(ApiToken.user))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
        rows = [token_row(t) for t in tokens]
        active = uow.session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username))
        return TokenOverview(rows, list(active))


def issue_token(
    ctx: EngineContext, username: str, label: str, actor: str, scopes: Iterable[str] | None = None
) -> IssuedToken:
    """Create an API token for an active user with `scopes` (None: every scope the user's roles allow);
    the secret is in the result only. Raises InvalidInput (naming a scope beyond the user's roles)."""
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
        chosen: list[str] = []
        if user is not None:
            try:
                chosen = checked_scopes(scopes, user)
            except InvalidInput as err:
                errors.update(err.details["fields"])
        if errors:
            raise invalid(errors)
        assert user is not None
        now = ctx.clock.now()
        row = ApiToken(
            user_id=user.id, name=label, token_hash=token_digest(token), created_at=now, user=user, scopes=chosen
        )
        uow.session.add(row)
        uow.session.flush()
        audit.record(
            uow.session,
            "token_created",
            now,
            actor=actor,
            data={"username": username, "name": label, "token_id": row.uuid, "scopes": chosen},
        )
        issued = IssuedToken(token, token_row(row))
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
        audit.record(
            uow.session,
            "token_revoked",
            row.revoked_at,
            actor=actor,
            data={"username": row.user.username, "name": row.name, "token_id": row.uuid},
        )
        revoked = token_row(row)
        uow.commit()
    ctx.tokens.clear()  # this process stops accepting it now, others within the cache time
    return revoked
