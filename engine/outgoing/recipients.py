"""The event subscriber: which events notify whom, and one job per recipient and channel.

`ROUTES` is the whole mapping: an event type, the kind of notification it gives, and who
receives it. Adding an event type is one line. Jobs are enqueued in the event's transaction
(the outbox), so a rolled-back step sends nothing. Nobody is told about their own action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, jobs
from engine.db.models import Event, Group, GroupMember, HumanTask, NotificationSetting, ProcessInstance, User
from engine.notifications import describe
from engine.outgoing.preferences import channels_for

# Events whose actor is worth naming ("By ...") in the message: someone handed the work over or ended it.
HANDED_OVER_BY = frozenset({"task_reassigned", "task_delegated", "task_escalated", "instance_cancelled"})
JOB_KINDS = {"email": "notify.email", "slack": "notify.slack", "teams": "notify.teams"}
MAX_ATTEMPTS = 6

Recipients = Callable[[Session, Event, "ProcessInstance | None", "HumanTask | None"], list[str]]


def task_people(session: Session, event: Event, instance: ProcessInstance | None, task: HumanTask | None) -> list[str]:
    """The person the event names (`to`, `assignee`), else the task's assignee, else its groups' members."""
    data = event.data or {}
    named = data.get("to") or data.get("assignee") or (task.assignee if task is not None else None)
    if named:
        return [str(named)]
    groups = data.get("candidate_groups") or (task.candidate_groups if task is not None else None) or []
    if not groups:
        return []
    return list(session.scalars(
        select(User.username).join(GroupMember, GroupMember.user_id == User.id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.name.in_([str(g) for g in groups]), User.active.is_(True))
        .order_by(User.username).distinct()))


def requester(session: Session, event: Event, instance: ProcessInstance | None, task: HumanTask | None) -> list[str]:
    """The user who started the instance."""
    return [instance.started_by] if instance is not None and instance.started_by else []


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


@audit.subscribe
def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """Enqueue the outgoing notifications an event gives (nothing for unrouted types)."""
    route = ROUTES.get(event.type)
    if route is None:
        return
    task = None
    if event.task_uuid:
        task = session.scalars(select(HumanTask).where(HumanTask.uuid == event.task_uuid)).first()
    names = [n for n in dict.fromkeys(route.recipients(session, event, instance, task)) if n != event.actor]
    if not names:
        return
    people = session.execute(
        select(User, NotificationSetting).outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
        .where(User.username.in_(names), User.active.is_(True))).all()
    context = context_of(event, instance, task, route.kind)
    for user, setting in people:
        for channel in sorted(channels_for(setting, route.kind)):
            if not _reachable(user, setting, channel):
                continue
            jobs.enqueue(session, JOB_KINDS[channel],
                         {"username": user.username, "channel": channel, "kind": route.kind, "event": event.uuid,
                          "context": context},
                         event.occurred_at, max_attempts=MAX_ATTEMPTS, instance=instance)


def _reachable(user: User, setting: NotificationSetting | None, channel: str) -> bool:
    if channel == "email":
        return bool(user.email)
    if setting is None:
        return False
    return bool(setting.slack_webhook_url if channel == "slack" else setting.teams_webhook_url)


def context_of(event: Event, instance: ProcessInstance | None, task: HumanTask | None, kind: str) -> dict[str, Any]:
    """The plain values a message is rendered from (kept in the job, so it shows the state of the event)."""
    data = event.data or {}
    variables = instance.variables if instance is not None and isinstance(instance.variables, dict) else {}
    task_uuid = task.uuid if task is not None else event.task_uuid
    status = instance.status if instance is not None else ""
    if kind == "instance_finished":
        link = f"/requests/{instance.uuid}" if instance is not None else "/requests"
    else:
        link = f"/tasks/{task_uuid}" if task_uuid else "/tasks"
    due = task.due_at if task is not None and task.due_at else None
    named = data.get("to") or data.get("assignee") or (task.assignee if task is not None else None)
    groups = [str(g) for g in (data.get("candidate_groups") or (task.candidate_groups if task is not None else None)
                               or [])]
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
        "reason": data.get("reason") or (instance.cancel_reason if instance is not None and status == "cancelled"
                                         else None),
        "outcome": str(variables["outcome"]) if kind == "instance_finished" and variables.get("outcome") else None,
        "status": status,
        "whom": whom,
        "status_label": {"completed": "Completed", "cancelled": "Cancelled"}.get(status, status.capitalize()),
        "due_at": due.isoformat() if due else None,
        "occurred_at": event.occurred_at.isoformat(),
        "link": link,
    }
