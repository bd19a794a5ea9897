"""In-app notifications (the bell): derived from the event stream, written in the same transaction.

`on_event` is an event subscriber (registered by `engine.bootstrap`): `ENTRIES` maps an event
type to the bell entries it gives, computed from the event's data and its instance only (no
query). The entries are added to the event's session and never committed here, so an entry
exists exactly when the change that recorded the event was committed (DESIGN.md #1). What
gets one, and from which event:

- ``task_assigned``: a task was assigned to me by the model or an approval pattern
  (``task_created`` naming an assignee), reassigned to me (``task_reassigned``; claiming a
  task oneself notifies nobody), or given to me as its group's manager by a reassign timer
  (``task_reassigned`` carrying the ``timer``);
- ``delegation``: someone delegated a task to me (``task_delegated``; I complete it on their behalf);
- ``mention``: someone wrote ``@me`` in a comment on a request I may see (``comment_added``'s ``mentions``);
- ``request_decided``: a request I started was decided (approved, rejected, failed, completed) or
  cancelled by someone else (``instance_completed``, ``instance_cancelled``, ``incident_raised`` when it
  failed the request), in the words of its outcome (engine.core.outcomes), linking to the request; for a
  request I watch, when I chose the bell for it (written by engine.notify.recipients, kind ``watched_finished``);
- ``substitute``: someone named me their out-of-office substitute (``out_of_office_set``);
- ``task_reminder``: a reminder timer of a task I (or my group) should work fired
  (``task_reminder``'s ``notified``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from engine.core import outcomes
from engine.core.context import EngineContext
from engine.core.errors import NotFound
from engine.core.permissions import Actor, require
from engine.core.records import Page
from engine.db.models import Event, Notification, ProcessInstance, Substitute
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
        return cls(
            id=row.uuid,
            kind=row.kind,
            text=row.text,
            link=row.link,
            instance_id=instance.uuid if instance else None,
            business_key=instance.business_key if instance else None,
            task_id=row.task_uuid,
            created_at=row.created_at,
            read=row.read_at is not None,
        )


@dataclass(frozen=True)
class Topbar:
    """What the top bar shows on every page: the bell's count and whether I am away."""

    unread: int
    away_until: date | None


def notify(
    session: Session,
    username: str | None,
    kind: str,
    text: str,
    link: str | None = None,
    instance: ProcessInstance | None = None,
    task_uuid: str | None = None,
    at: datetime | None = None,
) -> Notification | None:
    """Add a notification for `username` to the current transaction (None for no user); raises ValueError."""
    if not username:
        return None
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; kinds: {', '.join(KINDS)}")
    if at is None:
        raise ValueError("notify needs the time from the injected clock")
    row = Notification(
        username=username,
        kind=kind,
        text=text[:TEXT_LIMIT],
        link=link,
        instance_id=instance.id if instance is not None else None,
        task_uuid=task_uuid,
        created_at=at,
    )
    session.add(row)
    return row


def describe(instance: ProcessInstance) -> str:
    """How a request is named in a notification: its title and business key, as far as known."""
    title = instance.variables.get("title") if isinstance(instance.variables, dict) else None
    parts = [str(title) if title else (instance.definition.name or instance.definition.key)]
    if instance.business_key:
        parts.append(f"({instance.business_key})")
    return " ".join(parts)


@dataclass(frozen=True)
class Entry:
    """One bell entry an event gives: for whom, what kind, the text and where it links to."""

    username: str
    kind: str
    text: str
    link: str | None = None


def _task_created(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """A task the model or an approval pattern assigned: its assignee (or their substitute) is told."""
    data = event.data
    if not data.get("assignee") or instance is None:
        return []
    title = instance.variables.get("title") or instance.business_key or instance.definition.name
    away = f" (for {data['substitute_for']}, who is away)" if data.get("substitute_for") else ""
    return [Entry(data["assignee"], "task_assigned", f"{data['name']}: {title}{away}", f"/tasks/{event.task_uuid}")]


def _handed_over(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """A delegated or reassigned task: the new assignee is told, unless they did it themselves."""
    data = event.data
    to, actor = data.get("to"), event.actor
    if not to or instance is None:
        return []
    if "timer" in data:  # a reassign timer gave an overdue task to its group's manager
        return [
            Entry(
                to,
                "task_assigned",
                f"“{data['name']}” for {describe(instance)} is overdue and now yours as the group's manager.",
                f"/tasks/{event.task_uuid}",
            )
        ]
    if to == actor:
        return []
    standing_in = (
        f" (you stand in for {data['substitute_for']}, who is out of office)" if data.get("substitute_for") else ""
    )
    if event.type == "task_delegated" and data.get("owner"):
        return [
            Entry(
                to,
                "delegation",
                f"{actor} delegated “{data['name']}” for {describe(instance)} to you"
                f"{standing_in}; you complete it on behalf of {data['owner']}. Reason: {data['reason']}",
            )
        ]
    return [
        Entry(
            to,
            "task_assigned",
            f"{actor} assigned “{data['name']}” for {describe(instance)} to you{standing_in}. Reason: {data['reason']}",
        )
    ]


def _reminder(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """A reminder timer fired: everyone it names (the assignee, or the task's groups) is reminded."""
    data = event.data
    if instance is None or not data.get("notified"):
        return []
    due = f" (due {datetime.fromisoformat(data['due_at']):%Y-%m-%d %H:%M} UTC)" if data.get("due_at") else ""
    text = f"Reminder: {data['name']} for {describe(instance)} is waiting{due}."
    return [Entry(person, "task_reminder", text, f"/tasks/{event.task_uuid}") for person in data["notified"]]


def _mentions(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """A comment: everyone it mentions who may see the request (the comment decided who) is told."""
    mentioned = event.data.get("mentions")
    if instance is None or not mentioned:
        return []
    body = str(event.data.get("body", ""))
    snippet = body if len(body) <= 160 else body[:157] + "..."
    text = f"{event.actor} mentioned you on {describe(instance)}: {snippet}"
    return [Entry(name, "mention", text) for name in mentioned]


def _request_decided(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """A request completed or was cancelled: its requester is told what it came to ("was rejected by bob",
    engine.core.outcomes), not when they did it themselves."""
    actor = event.actor
    if instance is None or not instance.started_by or instance.started_by == actor:
        return []
    outcome = (event.data or {}).get("outcome") or instance.outcome
    if event.type == "instance_cancelled":
        outcome = outcomes.CANCELLED
    reason = f": {instance.cancel_reason}" if event.type == "instance_cancelled" and instance.cancel_reason else ""
    text = f"Your request {describe(instance)} {outcomes.sentence(outcome, instance.status, actor)}{reason}."
    return [Entry(instance.started_by, "request_decided", text, f"/requests/{instance.uuid}")]


def _request_failed(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """An incident that ended a request as failed (an error end event nothing caught): told like a decision."""
    if instance is None or instance.outcome != outcomes.FAILED:
        return []
    return _request_decided(event, instance)


def _substitute(event: Event, instance: ProcessInstance | None) -> list[Entry]:
    """Someone is out of office: their substitute is told."""
    data = event.data
    start, end = date.fromisoformat(data["starts_on"]), date.fromisoformat(data["ends_on"])
    return [
        Entry(
            data["substitute"],
            "substitute",
            f"{event.actor} is out of office from {start:%d %b %Y} to {end:%d %b %Y}: new tasks for them come to you.",
        )
    ]


# The whole mapping: an event type and the bell entries it gives. Adding one is one line. The functions
# use the event's data and instance only, and touch `instance.definition` only for an entry they give.
ENTRIES: dict[str, Callable[[Event, ProcessInstance | None], list[Entry]]] = {
    "task_created": _task_created,
    "task_delegated": _handed_over,
    "task_reassigned": _handed_over,
    "task_reminder": _reminder,
    "comment_added": _mentions,
    "instance_completed": _request_decided,
    "instance_cancelled": _request_decided,
    "incident_raised": _request_failed,
    "out_of_office_set": _substitute,
}


def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """The bell's event subscriber: add the entries the event gives to its transaction (no query)."""
    derive = ENTRIES.get(event.type)
    if derive is None:
        return
    for entry in derive(event, instance):
        notify(
            session,
            entry.username,
            entry.kind,
            entry.text,
            link=entry.link,
            instance=instance,
            task_uuid=event.task_uuid,
            at=event.occurred_at,
        )


def topbar(ctx: EngineContext, actor: Actor) -> Topbar:
    """The unread count and the end of an active out-of-office period, for the top bar."""
    with ctx.uow(write=False) as uow:
        unread = (
            uow.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.username == actor.username, Notification.read_at.is_(None))
            )
            or 0
        )
        today = ctx.clock.now().date()
        away = uow.session.scalar(
            select(Substitute.ends_on)
            .where(Substitute.username == actor.username, Substitute.starts_on <= today, Substitute.ends_on >= today)
            .order_by(Substitute.ends_on.desc())
            .limit(1)
        )
        return Topbar(unread=unread, away_until=away)


def list_notifications(
    ctx: EngineContext,
    actor: Actor,
    unread_only: bool = False,
    page: int = 1,
    per_page: int = 25,
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
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return Page([NotificationView.of(n, i) for n, i in rows], total, page, per_page)


def mark_read(ctx: EngineContext, actor: Actor, notification_id: str) -> NotificationView:
    """Mark one of the actor's notifications read; raises NotFound (also for someone else's)."""
    require(actor, "notification.read")
    with ctx.uow() as uow:
        row = uow.session.scalars(
            select(Notification).where(Notification.uuid == notification_id, Notification.username == actor.username)
        ).first()
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
            update(Notification)
            .where(Notification.username == actor.username, Notification.read_at.is_(None))
            .values(read_at=ctx.clock.now())
        )
        uow.commit()
        return rows_changed(result)
