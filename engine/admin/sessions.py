"""Browser sessions kept on the server: started at sign-in, checked on every request, ended at once.

The cookie carries a random session id; the `web_sessions` row keeps only its SHA-256, so a leaked
database gives no usable cookie. Every request of every process reads the row, so an ended session
(sign-out, "sign out everywhere", a password change or reset, deactivation, an admin ending it) is
refused at the next request anywhere. A session also ends after `session_idle_minutes` without use
and `session_max_hours` after sign-in. Its last use is written at most every `session_touch_seconds`,
so a busy session costs one read per request and one write a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, joinedload

from engine.admin.identity import actor_of
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.core.errors import NotFound
from engine.core.permissions import Actor
from engine.db.models import User, WebSession, new_uuid
from engine.events import stream as audit

KEEP_ENDED = timedelta(days=30)  # ended sessions stay listed (and auditable) this long, then go at a sign-in


@dataclass(frozen=True)
class SessionUser:
    """Who a live session belongs to."""

    actor: Actor
    display_name: str
    session_id: str  # the row's public id (never the cookie's secret)


@dataclass(frozen=True)
class SessionRow:
    """A session as the account and admin pages list it."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    remote: str
    current: bool = False


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    ctx: EngineContext,
    user_id: int,
    remote: str | None,
    user_agent: str | None,
    oidc_sid: str | None = None,
    id_token: str | None = None,
) -> tuple[str, str]:
    """A new session for a signed-in user: its secret id (for the cookie, kept nowhere else) and public id.

    Signed in with the OpenID provider: its session id (`oidc_sid`) and the ID token (engine/sso)."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.session.execute(
            delete(WebSession).where(
                WebSession.user_id == user_id,
                or_(WebSession.ended_at < now - KEEP_ENDED, WebSession.created_at < now - _max_age(ctx) - KEEP_ENDED),
            )
        )
        public_id = new_uuid()
        row = WebSession(
            uuid=public_id,
            token_hash=digest(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            user_agent=(user_agent or "")[:300],
            remote=(remote or "")[:64],
            oidc_sid=oidc_sid[:255] if oidc_sid else None,
            id_token=id_token,
        )
        uow.session.add(row)
        uow.commit()
    return token, public_id


def current(ctx: EngineContext, token: str) -> SessionUser | None:
    """The user of a live session, or None (unknown, ended, timed out, user deactivated).

    A session found past a timeout is ended with the reason `idle` or `expired`."""
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(
            select(WebSession)
            .where(WebSession.token_hash == digest(token))
            .options(joinedload(WebSession.user).selectinload(User.groups))
        ).first()
        if row is None or row.ended_at is not None or not row.user.active:
            return None
        ending = _timed_out(ctx.settings, row, now)
        found = SessionUser(actor_of(row.user), row.user.display_name or row.user.username, row.uuid)
        touch = now - row.last_seen_at >= timedelta(seconds=ctx.settings.session_touch_seconds)
        session_id = row.id
    if ending:
        _end_one(ctx, session_id, ending)
        return None
    if touch:
        with ctx.uow() as uow:
            uow.session.execute(
                update(WebSession)
                .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
                .values(last_seen_at=now)
            )
            uow.commit()
    return found


def end(ctx: EngineContext, token: str, actor: str, reason: str = "signed_out") -> str | None:
    """End one session by its secret id (signing out); records `logout`. Unknown or ended: nothing happens.

    Returns the ID token the session was signed in with (None for a password sign-in): the hint of the
    provider's logout (RP-initiated logout)."""
    with ctx.uow() as uow:
        id_token = uow.session.scalar(select(WebSession.id_token).where(WebSession.token_hash == digest(token)))
        ended = uow.session.execute(
            update(WebSession)
            .where(WebSession.token_hash == digest(token), WebSession.ended_at.is_(None))
            .values(ended_at=ctx.clock.now(), end_reason=reason)
        )
        if ended.rowcount:  # type: ignore[attr-defined]
            audit.record(uow.session, "logout", ctx.clock.now(), actor=actor, data={})
        uow.commit()
    return id_token


def end_all_in(session: Session, user_id: int, reason: str, now: datetime) -> int:
    """End every live session of a user inside the caller's unit of work; returns how many."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_sessions(ctx: EngineContext, username: str, actor: str, session_id: str | None = None) -> int:
    """End one session (by its public id) or all of a user's sessions; records `sessions_ended`.

    Used for "sign out everywhere" (actor is the user) and by admins. Returns how many ended;
    raises NotFound for an unknown user."""
    now = ctx.clock.now()
    reason = "signed_out_everywhere" if actor == username else "ended_by_admin"
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        if session_id is None:
            count = end_all_in(uow.session, user.id, reason, now)
        else:
            result = uow.session.execute(
                update(WebSession)
                .where(WebSession.user_id == user.id, WebSession.uuid == session_id, WebSession.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
            count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            data = {"username": username, "count": count, **({"session": session_id} if session_id else {})}
            audit.record(uow.session, "sessions_ended", now, actor=actor, data=data)
        uow.commit()
    return count


def live_sessions(ctx: EngineContext, username: str, current_id: str | None = None) -> list[SessionRow]:
    """A user's sessions that are neither ended nor timed out, newest first; raises NotFound."""
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        rows = uow.session.scalars(
            select(WebSession)
            .where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
            .order_by(WebSession.created_at.desc(), WebSession.id.desc())
        )
        return [
            SessionRow(r.uuid, r.created_at, r.last_seen_at, r.user_agent, r.remote, r.uuid == current_id)
            for r in rows
            if not _timed_out(ctx.settings, r, now)
        ]


def _timed_out(settings: Settings, row: WebSession, now: datetime) -> str | None:
    if now - row.created_at >= timedelta(hours=settings.session_max_hours):
        return "expired"
    if now - row.last_seen_at >= timedelta(minutes=settings.session_idle_minutes):
        return "idle"
    return None


def _max_age(ctx: EngineContext) -> timedelta:
    return timedelta(hours=ctx.settings.session_max_hours)


def _end_one(ctx: EngineContext, row_id: int, reason: str) -> None:
    with ctx.uow() as uow:
        uow.session.execute(
            update(WebSession)
            .where(WebSession.id == row_id, WebSession.ended_at.is_(None))
            .values(ended_at=ctx.clock.now(), end_reason=reason)
        )
        uow.commit()
