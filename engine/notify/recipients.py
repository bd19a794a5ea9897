"""The outgoing event subscriber: which events notify whom, and one job per recipient and channel.

`ROUTES` is the whole mapping: an event type, the kind of notification it gives, and who
receives it. Adding an event type is one line. Jobs are enqueued in the event's transaction
(the outbox), so a rolled-back step sends nothing. Nobody is told about their own action.

Cost per event (it runs inside every engine step): the task an event names is taken from the
event's own data when that carries everything a message needs (`task_created` does), else
from the session (the step that recorded the event holds the row), and read only as a last
resort; the recipients (named people and group members) and their settings are one query.
Email jobs are enqueued only when an SMTP server is configured (the unit of work's
`Settings` in `session.info`, see `engine.db.uow.settings_of`); chat jobs go to whoever set a
chat webhook URL either way. `on_event` is registered by engine.bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, String, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from engine.db.models import Event, Group, GroupMember, HumanTask, NotificationSetting, ProcessInstance, User
from engine.db.uow import settings_of
from engine.notify.bell import describe
from engine.notify.preferences import channels_for
from engine.runtime import jobs

# Events whose actor is worth naming ("By ...") in the message: someone handed the work over or ended it.
HANDED_OVER_BY = frozenset({"task_reassigned", "task_delegated", "task_escalated", "instance_cancelled"})
JOB_KINDS = {"email": "notify.email", "slack": "notify.slack", "teams": "notify.teams"}
MAX_ATTEMPTS = 6
# What a message needs of a task; an event whose data has all of it (task_created) needs no task row.
TASK_FIELDS = ("name", "assignee", "candidate_groups", "due_at")


@dataclass(frozen=True)
class Who:
    """Recipients: people by user name, and the members of groups by group name."""

    names: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskFacts:
    """What messages use of a task: from the event's data, or from its row."""

    uuid: str | None
    name: str | None
    assignee: str | None
    candidate_groups: list[str]
    due_at: str | None  # ISO 8601
    candidate_users: list[str] = field(default_factory=list)


Recipients = Callable[[Event, "ProcessInstance | None", "TaskFacts | None"], Who]


def task_people(event: Event, instance: ProcessInstance | None, task: TaskFacts | None) -> Who:
    """The person the event names (`to`, `assignee`), else the task's assignee, else its candidate users and
    its groups' members."""
    data = event.data or {}
    named = data.get("to") or data.get("assignee") or (task.assignee if task is not None else None)
    if named:
        return Who(names=(str(named),))
    groups = data.get("candidate_groups") or (task.candidate_groups if task is not None else None) or []
    users = data.get("candidate_users") or (task.candidate_users if task is not None else None) or []
    return Who(names=tuple(str(u) for u in users), groups=tuple(str(g) for g in groups))


def requester(event: Event, instance: ProcessInstance | None, task: TaskFacts | None) -> Who:
    """The user who started the instance."""
    return Who(names=(instance.started_by,)) if instance is not None and instance.started_by else Who()


@dataclass(frozen=True)
class Route:
    kind: str
    recipients: Recipients


ROUTES: dict[str, Route] = {
    "task_created": Route("task_assigned", task_people),
    "task_reassigned": Route("task_assigned", task_people),
    "task_delegated": Route("task_assigned", task_people),
    "task_reminder": Route("task_reminder", task_people),
    "task_escalated": Route("task_escalated", task_people),
    "sla_breached": Route("sla_breached", task_people),
    "instance_completed": Route("instance_finished", requester),
    "instance_cancelled": Route("instance_finished", requester),
}


def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """Enqueue the outgoing notifications an event gives (nothing for unrouted types)."""
    route = ROUTES.get(event.type)
    if route is None:
        return
    task = task_facts(session, event)
    who = route.recipients(event, instance, task)
    if not who.names and not who.groups:
        return
    settings = settings_of(session)
    email = settings is None or bool(settings.smtp_host)  # a bare session (no settings known) keeps email
    people = _people(session, who, event.actor)
    context = None
    for person in people:
        for channel in sorted(channels_for(person.setting, route.kind)):
            if (channel == "email" and not email) or not _reachable(person, channel):
                continue
            context = context or context_of(event, instance, task, route.kind)
            jobs.enqueue(
                session,
                JOB_KINDS[channel],
                {
                    "username": person.username,
                    "channel": channel,
                    "kind": route.kind,
                    "event": event.uuid,
                    "context": context,
                },
                event.occurred_at,
                max_attempts=MAX_ATTEMPTS,
                instance=instance,
            )


@dataclass(frozen=True)
class Person:
    """A recipient as `_people` reads them: the user's address and their settings (None if never set)."""

    username: str
    email: str | None
    setting: Prefs | None


@dataclass(frozen=True)
class Prefs:
    channels: dict[str, Any] | None
    slack_webhook_url: str | None
    teams_webhook_url: str | None


def _people_query(names: ColumnElement[bool] | None = None, groups: ColumnElement[bool] | None = None) -> Select[Any]:
    """Named people or members of groups, active, not the actor, with their settings."""
    named = names if names is not None else User.username.in_(bindparam("names", expanding=True))
    in_groups = groups if groups is not None else Group.name.in_(bindparam("groups", expanding=True))
    return (
        select(
            User.username,
            User.email,
            NotificationSetting.id,
            NotificationSetting.channels,
            NotificationSetting.slack_webhook_url,
            NotificationSetting.teams_webhook_url,
        )
        .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
        .where(
            or_(
                named,
                User.id.in_(select(GroupMember.user_id).join(Group, Group.id == GroupMember.group_id).where(in_groups)),
            ),
            User.active.is_(True),
            User.username != bindparam("actor"),
        )
        .order_by(User.username)
    )


# One statement for every event, built once, so each event only binds values. On PostgreSQL the
# lists are array parameters (`= ANY(...)`): the text never changes and stays prepared, where
# expanding IN lists render new text per call. An empty list matches nothing either way.
_PEOPLE = {
    "postgresql": _people_query(
        User.username == any_(bindparam("names", type_=ARRAY(String))),
        Group.name == any_(bindparam("groups", type_=ARRAY(String))),
    ),
    "other": _people_query(),
}


def _people(session: Session, who: Who, actor: str | None) -> list[Person]:
    """The active recipients with their settings, by user name, without the actor: one query."""
    connection = session.connection()
    query = _PEOPLE.get(connection.dialect.name, _PEOPLE["other"])
    rows = connection.execute(
        query, {"names": list(who.names), "groups": list(who.groups), "actor": actor if actor is not None else ""}
    ).all()
    return [
        Person(name, email, Prefs(channels, slack, teams) if setting_id is not None else None)
        for name, email, setting_id, channels, slack, teams in rows
    ]


def task_facts(session: Session, event: Event) -> TaskFacts | None:
    """The task the event names: from its data if complete, else from the session, else read."""
    if not event.task_uuid:
        return None
    data = event.data or {}
    if all(k in data for k in TASK_FIELDS):
        return TaskFacts(
            event.task_uuid,
            data["name"],
            data["assignee"],
            list(data["candidate_groups"] or []),
            data["due_at"],
            list(data.get("candidate_users") or []),
        )
    row = _in_session(session, event.task_uuid)
    if row is None:
        row = session.scalars(select(HumanTask).where(HumanTask.uuid == event.task_uuid)).first()
    if row is None:
        return None
    return TaskFacts(
        row.uuid,
        row.name,
        row.assignee,
        list(row.candidate_groups or []),
        row.due_at.isoformat() if row.due_at else None,
        list(row.candidate_users or []),
    )


def _in_session(session: Session, uuid: str) -> HumanTask | None:
    """A task row the session already holds (loaded or new), without a query."""
    for obj in (*session.new, *session.identity_map.values()):
        if isinstance(obj, HumanTask) and obj.uuid == uuid:
            return obj
    return None


def _reachable(person: Person, channel: str) -> bool:
    if channel == "email":
        return bool(person.email)
    setting = person.setting
    if setting is None:
        return False
    return bool(setting.slack_webhook_url if channel == "slack" else setting.teams_webhook_url)


def context_of(event: Event, instance: ProcessInstance | None, task: TaskFacts | None, kind: str) -> dict[str, Any]:
    """The plain values a message is rendered from (kept in the job, so it shows the state of the event)."""
    data = event.data or {}
    variables = instance.variables if instance is not None and isinstance(instance.variables, dict) else {}
    task_uuid = task.uuid if task is not None else event.task_uuid
    status = instance.status if instance is not None else ""
    if kind == "instance_finished":
        link = f"/requests/{instance.uuid}" if instance is not None else "/requests"
    else:
        link = f"/tasks/{task_uuid}" if task_uuid else "/tasks"
    due = task.due_at if task is not None else None
    named = data.get("to") or data.get("assignee") or (task.assignee if task is not None else None)
    groups = [
        str(g) for g in (data.get("candidate_groups") or (task.candidate_groups if task is not None else None) or [])
    ]
    whom = "you" if named or not groups else f"your group{'s' if len(groups) > 1 else ''} {', '.join(groups)}"
    return {
        "kind": kind,
        "event_type": event.type,
        "task_id": task_uuid,
        "task_name": str(data.get("name") or (task.name if task is not None else None) or event.element_id or "A task"),
        "instance_id": instance.uuid if instance is not None else None,
        "request": describe(instance) if instance is not None else "a request",
        "process": (instance.definition.name or instance.definition.key) if instance is not None else "",
        "business_key": instance.business_key if instance is not None else None,
        "actor": event.actor if event.type in HANDED_OVER_BY else None,
        "reason": data.get("reason")
        or (instance.cancel_reason if instance is not None and status == "cancelled" else None),
        "outcome": str(variables["outcome"]) if kind == "instance_finished" and variables.get("outcome") else None,
        "status": status,
        "whom": whom,
        "status_label": {"completed": "Completed", "cancelled": "Cancelled"}.get(status, status.capitalize()),
        "due_at": due or None,
        "occurred_at": event.occurred_at.isoformat(),
        "link": link,
    }
