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

from sqlalchemy import ColumnElement, Select, String, any_, bindparam, literal, or_, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from engine.core import outcomes
from engine.db.models import (
    Event,
    Group,
    GroupMember,
    HumanTask,
    NotificationSetting,
    ProcessInstance,
    SlackAccount,
    User,
    Watcher,
)
from engine.db.uow import settings_of
from engine.notify import bell
from engine.notify.bell import describe
from engine.notify.preferences import BELL, KINDS, channels_for
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
    watchers_of: ProcessInstance | None = None  # the people watching this instance (not its requester)


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


def failed(event: Event, instance: ProcessInstance | None) -> bool:
    """An incident that decided the instance: it stopped on an error end event nothing caught (outcome failed)."""
    return event.type != "incident_raised" or (instance is not None and instance.outcome == outcomes.FAILED)


def requester_if_decided(event: Event, instance: ProcessInstance | None, task: TaskFacts | None) -> Who:
    """The requester, when the event decided the instance (an incident only when it failed it)."""
    return requester(event, instance, task) if failed(event, instance) else Who()


def watchers(event: Event, instance: ProcessInstance | None, task: TaskFacts | None) -> Who:
    """Everyone watching the instance (engine/requester/watchers.py), when the event decided it."""
    return Who(watchers_of=instance) if instance is not None and failed(event, instance) else Who()


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
    "incident_raised": Route("instance_finished", requester_if_decided),  # only an uncaught error end: failed
}
# Told besides: the watchers of a request, when it is decided (by the same events, in the watchers' words).
WATCHED: dict[str, Route] = {
    "instance_completed": Route("watched_finished", watchers),
    "instance_cancelled": Route("watched_finished", watchers),
    "incident_raised": Route("watched_finished", watchers),
}


def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """Enqueue the outgoing notifications an event gives (nothing for unrouted types). The people of the
    event's route and the watchers of the instance it decides are read in one statement."""
    routes = [route for route in (ROUTES.get(event.type), WATCHED.get(event.type)) if route is not None]
    if not routes:
        return
    task = task_facts(session, event)
    wanted = [(route, route.recipients(event, instance, task)) for route in routes]
    wanted = [(route, who) for route, who in wanted if who.names or who.groups or who.watchers_of is not None]
    if not wanted:
        return
    named = next((who for _, who in wanted if who.watchers_of is None), Who())
    watched = next((who.watchers_of for _, who in wanted if who.watchers_of is not None), None)
    people, watching = _people(session, named, watched, event.actor)
    for route, who in wanted:
        _notify(session, event, instance, task, route, watching if who.watchers_of is not None else people)


def _notify(
    session: Session,
    event: Event,
    instance: ProcessInstance | None,
    task: TaskFacts | None,
    route: Route,
    people: list[Person],
) -> None:
    if not people:
        return
    settings = settings_of(session)
    email = settings is None or bool(settings.smtp_host)  # a bare session (no settings known) keeps email
    slack_app = settings is not None and bool(settings.slack_bot_token)  # DMs from the Slack app (notify.slack)
    context = None
    for person in people:
        for channel in sorted(channels_for(person.setting, route.kind)):
            if (channel == "email" and not email) or not _reachable(person, channel, slack_app):
                continue
            context = context or context_of(event, instance, task, route.kind)
            if channel == BELL:
                _bell(session, person.username, context, instance, event)
                continue
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
    on_slack: bool = False  # matched to a Slack user (engine.notify.slack.accounts)


@dataclass(frozen=True)
class Prefs:
    channels: dict[str, Any] | None
    slack_webhook_url: str | None
    teams_webhook_url: str | None


_COLUMNS = (
    User.username,
    User.email,
    NotificationSetting.id,
    NotificationSetting.channels,
    NotificationSetting.slack_webhook_url,
    NotificationSetting.teams_webhook_url,
    SlackAccount.id,
)


def _people_query(names: ColumnElement[bool], groups: ColumnElement[bool]) -> Select[Any]:
    """Named people or members of groups, active, not the actor, with their settings (watching: 0)."""
    return (
        select(*_COLUMNS, literal(0).label("watching"))
        .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
        .outerjoin(SlackAccount, SlackAccount.user_id == User.id)
        .where(
            or_(
                names,
                User.id.in_(select(GroupMember.user_id).join(Group, Group.id == GroupMember.group_id).where(groups)),
            ),
            User.active.is_(True),
            User.username != bindparam("actor"),
        )
    )


def _watchers_query() -> Select[Any]:
    """The active people watching an instance, but its requester and the actor, with their settings (watching: 1)."""
    return (
        select(*_COLUMNS, literal(1).label("watching"))
        .join(Watcher, Watcher.username == User.username)
        .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
        .outerjoin(SlackAccount, SlackAccount.user_id == User.id)
        .where(
            Watcher.instance_id == bindparam("watched"),
            User.active.is_(True),
            User.username != bindparam("actor"),
            User.username != bindparam("requester"),
        )
    )


# One statement for every event, built once, so each event only binds values: the event's people and
# the watchers of the instance it decides (none when `watched` is 0). On PostgreSQL the lists are array
# parameters (`= ANY(...)`): the text never changes and stays prepared, where expanding IN lists render
# new text per call. An empty list matches nothing either way.
def _statement(names: ColumnElement[bool], groups: ColumnElement[bool]) -> Any:
    return union_all(_people_query(names, groups), _watchers_query())


_PEOPLE = {
    "postgresql": _statement(
        User.username == any_(bindparam("names", type_=ARRAY(String))),
        Group.name == any_(bindparam("groups", type_=ARRAY(String))),
    ),
    "other": _statement(
        User.username.in_(bindparam("names", expanding=True)), Group.name.in_(bindparam("groups", expanding=True))
    ),
}


def _people(
    session: Session, who: Who, watched: ProcessInstance | None, actor: str | None
) -> tuple[list[Person], list[Person]]:
    """(the active people `who` names, the active watchers of `watched`), with their settings, without the
    actor (and the watchers without the requester), each by user name: one query."""
    connection = session.connection()
    query = _PEOPLE.get(connection.dialect.name, _PEOPLE["other"])
    values = {
        "names": list(who.names),
        "groups": list(who.groups),
        "actor": actor if actor is not None else "",
        "watched": watched.id if watched is not None else 0,
        "requester": (watched.started_by or "") if watched is not None else "",
    }
    found: tuple[list[Person], list[Person]] = ([], [])
    for name, email, setting_id, channels, slack, teams, slack_id, watching in sorted(
        connection.execute(query, values).all(), key=lambda row: row[0]
    ):
        prefs = Prefs(channels, slack, teams) if setting_id is not None else None
        found[1 if watching else 0].append(Person(name, email, prefs, slack_id is not None))
    return found


def _bell(
    session: Session, username: str, context: dict[str, Any], instance: ProcessInstance | None, event: Event
) -> None:
    """A bell entry chosen as a channel (kinds that offer it), in the kind's own words."""
    text = KINDS[context["kind"]].lead.format(**{k: v if v is not None else "" for k, v in context.items()})
    bell.notify(
        session, username, "request_decided", text, context["link"], instance, event.task_uuid, event.occurred_at
    )


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


def _reachable(person: Person, channel: str, slack_app: bool = False) -> bool:
    if channel == BELL:
        return True
    if channel == "email":
        return bool(person.email)
    if channel == "slack" and slack_app and (person.on_slack or person.email):
        return True  # the Slack app finds them by their match or their address when the job runs
    setting = person.setting
    if setting is None:
        return False
    return bool(setting.slack_webhook_url if channel == "slack" else setting.teams_webhook_url)


def context_of(event: Event, instance: ProcessInstance | None, task: TaskFacts | None, kind: str) -> dict[str, Any]:
    """The plain values a message is rendered from (kept in the job, so it shows the state of the event)."""
    data = event.data or {}
    task_uuid = task.uuid if task is not None else event.task_uuid
    status = instance.status if instance is not None else ""
    outcome = data.get("outcome") or (instance.outcome if instance is not None else None)
    finished = kind in ("instance_finished", "watched_finished")
    if finished:
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
        "outcome": outcomes.label(outcome, status) if finished else None,
        "status": status,
        "whom": whom,
        "status_label": outcomes.label(outcome, status),
        # what the request came to, as a verb phrase: "was rejected by bob" (engine.core.outcomes)
        "verdict": outcomes.sentence(outcome, status, event.actor) if finished else "",
        "due_at": due or None,
        "occurred_at": event.occurred_at.isoformat(),
        "link": link,
    }
