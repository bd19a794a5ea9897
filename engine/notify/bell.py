"""In-app notifications (the bell): derived from the event stream, written in the same transaction.

`notify` adds a row to the caller's session and never commits, so a notification exists
exactly when the change that caused it was committed. What gets one:

- ``task_assigned``: a task was reassigned to me, or assigned to me by an approval pattern
  (claiming a task oneself notifies nobody);
- ``delegation``: someone delegated a task to me (I complete it on their behalf);
- ``mention``: someone wrote ``@me`` in a comment on a request I may see;
- ``request_decided``: a request I started completed or was cancelled by someone else;
- ``substitute``: someone named me their out-of-office substitute;
- ``task_reminder``: a reminder timer of a task I (or my group) should work fired (engine.sla.deadlines).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from engine.core.context import EngineContext
from engine.core.errors import NotFound
from engine.core.permissions import Actor, require
from engine.core.records import Page
from engine.db.models import Notification, ProcessInstance, Substitute
from engine.db.uow import rows_changed

KINDS = ("task_assigned", "delegation", "mention", "request_decided", "substitute", "task_reminder")
TEXT_LIMIT = 500


@dataclass(frozen=True)
class NotificationView:
    id: str
    kind: str
    text: str
    link: str | None
    instance_id: str | None
    business_key: str | None
    task_id: str | None
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, row: Notification, instance: ProcessInstance | None) -> NotificationView:
        return cls(id=row.uuid, kind=row.kind, text=row.text, link=row.link,
                   instance_id=instance.uuid if instance else None,
                   business_key=instance.business_key if instance else None, task_id=row.task_uuid,
                   created_at=row.created_at, read=row.read_at is not None)


@dataclass(frozen=True)
class Topbar:
    """What the top bar shows on every page: the bell's count and whether I am away."""

    unread: int
    away_until: date | None


def notify(
    session: Session, username: str | None, kind: str, text: str, link: str | None = None,
    instance: ProcessInstance | None = None, task_uuid: str | None = None, at: datetime | None = None,
) -> Notification | None:
    """Add a notification for `username` to the current transaction (None for no user); raises ValueError."""
    if not username:
        return None
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; kinds: {', '.join(KINDS)}")
    if at is None:
        raise ValueError("notify needs the time from the injected clock")
    row = Notification(username=username, kind=kind, text=text[:TEXT_LIMIT], link=link,
                       instance_id=instance.id if instance is not None else None, task_uuid=task_uuid,
                       created_at=at)
    session.add(row)
    return row


def describe(instance: ProcessInstance) -> str:
    """How a request is named in a notification: its title and business key, as far as known."""
    title = instance.variables.get("title") if isinstance(instance.variables, dict) else None
    parts = [str(title) if title else (instance.definition.name or instance.definition.key)]
    if instance.business_key:
        parts.append(f"({instance.business_key})")
    return " ".join(parts)


def request_decided(session: Session, instance: ProcessInstance, actor: str | None, at: datetime) -> None:
    """Tell the requester that their request completed or was cancelled (not when they did it)."""
    if not instance.started_by or instance.started_by == actor:
        return
    if instance.status == "completed":
        outcome = instance.variables.get("outcome") if isinstance(instance.variables, dict) else None
        text = f"Your request {describe(instance)} is completed" + (f": {outcome}" if outcome else "") + "."
    else:
        reason = f": {instance.cancel_reason}" if instance.cancel_reason else ""
        text = f"Your request {describe(instance)} was cancelled by {actor or 'the system'}{reason}."
    notify(session, instance.started_by, "request_decided", text, instance=instance, at=at)


def topbar(ctx: EngineContext, actor: Actor) -> Topbar:
    """The unread count and the end of an active out-of-office period, for the top bar."""
    with ctx.uow(write=False) as uow:
        unread = uow.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.username == actor.username, Notification.read_at.is_(None))) or 0
        today = ctx.clock.now().date()
        away = uow.session.scalar(select(Substitute.ends_on).where(
            Substitute.username == actor.username, Substitute.starts_on <= today, Substitute.ends_on >= today)
            .order_by(Substitute.ends_on.desc()).limit(1))
        return Topbar(unread=unread, away_until=away)


def list_notifications(
    ctx: EngineContext, actor: Actor, unread_only: bool = False, page: int = 1, per_page: int = 25,
) -> Page:
    """The actor's notifications, newest first; raises Forbidden."""
    require(actor, "notification.read")
    page, per_page = max(1, page), max(1, min(per_page, ctx.settings.page_size_max))
    query = select(Notification).where(Notification.username == actor.username)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    with ctx.uow(write=False) as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.execute(
            query.add_columns(ProcessInstance)
            .outerjoin(ProcessInstance, ProcessInstance.id == Notification.instance_id)
            .options(joinedload(ProcessInstance.definition))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset((page - 1) * per_page).limit(per_page)
        ).all()
        return Page([NotificationView.of(n, i) for n, i in rows], total, page, per_page)


def mark_read(ctx: EngineContext, actor: Actor, notification_id: str) -> NotificationView:
    """Mark one of the actor's notifications read; raises NotFound (also for someone else's)."""
    require(actor, "notification.read")
    with ctx.uow() as uow:
        row = uow.session.scalars(select(Notification).where(
            Notification.uuid == notification_id, Notification.username == actor.username)).first()
        if row is None:
            raise NotFound(f"notification {notification_id} does not exist")
        if row.read_at is None:
            row.read_at = ctx.clock.now()
        instance = uow.session.get(ProcessInstance, row.instance_id) if row.instance_id else None
        view = NotificationView.of(row, instance)
        uow.commit()
        return view


def mark_all_read(ctx: EngineContext, actor: Actor) -> int:
    """Mark every unread notification of the actor read; returns how many."""
    require(actor, "notification.read")
    with ctx.uow() as uow:
        result = uow.session.execute(
            update(Notification).where(Notification.username == actor.username, Notification.read_at.is_(None))
            .values(read_at=ctx.clock.now()))
        uow.commit()
        return rows_changed(result)
