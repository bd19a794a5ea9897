"""A process's posts to named chat channels (`pmoflow:announce`, read at deploy by
engine/spiff/extensions/announce.py and kept in `process_definitions.announce`).

`on_event` (an event subscriber, registered by engine.bootstrap) maps an event to the names a model
can choose (`started`, `decided` and the outcome, `sla_breached`, `escalated`) and enqueues one
`notify.channel` job per channel of the instance's process whose `on` names one of them, in the event's
transaction, with the message as it reads at the event. The job posts it to the channel's incoming
webhook (Slack or Teams), looked up by name in PMOFLOW_CHAT_CHANNELS when it runs, through the same
guarded client as every chat post (engine/notify/delivery.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.core import outcomes
from engine.core.context import EngineContext
from engine.db.models import Event, ProcessInstance
from engine.notify import delivery, rendering
from engine.notify.recipients import context_of, task_facts
from engine.runtime import jobs

KIND = "notify.channel"
MAX_ATTEMPTS = 6


def announced_as(event: Event, instance: ProcessInstance) -> set[str]:
    """The names a model's `on` can use for this event (empty: nothing to announce)."""
    if event.type == "instance_started":
        return {"started"}
    if event.type == "instance_completed":
        return {"decided", (event.data or {}).get("outcome") or instance.outcome or outcomes.COMPLETED}
    if event.type == "instance_cancelled":
        return {"decided", outcomes.CANCELLED}
    if event.type == "incident_raised" and instance.outcome == outcomes.FAILED:
        return {"decided", outcomes.FAILED}
    if event.type == "sla_breached":
        return {"sla_breached"}
    if event.type == "task_escalated":
        return {"escalated"}
    return set()


def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """Enqueue a post to each channel the instance's process announces this event to."""
    if instance is None:
        return
    names = announced_as(event, instance)
    if not names:
        return
    channels = [rule["channel"] for rule in (instance.definition.announce or []) if names & set(rule.get("on", []))]
    if not channels:
        return
    text = _message(session, event, instance, names)
    for channel in dict.fromkeys(channels):  # once per channel, in the model's order
        jobs.enqueue(
            session,
            KIND,
            {"channel": channel, "event": event.uuid, "message": text},
            event.occurred_at,
            max_attempts=MAX_ATTEMPTS,
            instance=instance,
        )


# The wording per announcement: subject, first sentence (str.format over recipients.context_of), action.
WORDING = {
    "decided": ("{status_label}: {request}", "{request} {verdict}.", "Open the request"),
    "started": ("Started: {request}", "{request} was started by {requester}.", "Open the request"),
    "sla_breached": (
        "Overdue: {task_name} ({request})",
        "{task_name} for {request} is past its deadline.",
        "Open the task",
    ),
    "escalated": ("Escalated: {task_name} ({request})", "{task_name} for {request} was escalated.", "Open the task"),
}


def _message(session: Session, event: Event, instance: ProcessInstance, names: set[str]) -> dict[str, Any]:
    """The post as plain values: subject, lead, facts and the path it links to."""
    which = next(w for w in ("decided", "started", "sla_breached", "escalated") if w in names)
    kind = "instance_finished" if which in ("decided", "started") else "sla_breached"
    context = context_of(event, instance, task_facts(session, event), kind)
    if which == "started":
        context["link"] = f"/requests/{instance.uuid}"
    values = {k: rendering.one_line(v) if isinstance(v, str) else (v or "") for k, v in context.items()}
    values["requester"] = instance.started_by or "the system"
    subject, lead, action = WORDING[which]
    facts = [
        ("Process", values["process"]),
        ("Task", values["task_name"] if which in ("sla_breached", "escalated") else None),
        ("Outcome", values["outcome"] if which == "decided" else None),
        ("Reason", values["reason"] if which == "decided" else None),
    ]
    return {
        "subject": rendering.one_line(subject.format(**values), 200),
        "lead": rendering.one_line(lead.format(**values), 500),
        "facts": [[label, str(value)] for label, value in facts if value],
        "link": context["link"],
        "action": action,
    }


def post(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Post one announcement to its channel; raises PermanentFailure, RetryLater (delivery.post)."""
    settings = ctx.settings
    name = job.payload["channel"]
    found = settings.channels().get(name)
    if found is None:
        return {"skipped": f"the chat channel {name!r} is no longer configured (PMOFLOW_CHAT_CHANNELS)"}
    kind, url = found
    text = job.payload["message"]
    msg = rendering.Message(
        subject=text["subject"],
        lead=text["lead"],
        facts=[(label, value) for label, value in text["facts"]],
        url=rendering.link(settings, text["link"]),
        action=text["action"],
        settings_url=rendering.link(settings, rendering.SETTINGS_PATH),
    )
    body = rendering.slack_body(msg) if kind == "slack" else rendering.teams_body(msg)
    return delivery.post(settings, kind, url, body, job.uuid)


# Registered by engine.bootstrap.
JOBS = {KIND: jobs.JobHandler(run=post)}
