"""Keeping the Slack app's direct messages true: when a task stops waiting for someone it messaged, the
message is updated in place (chat.update) to say what happened, without its buttons.

1. Every task DM the Slack app posts (`notify.slack`, engine/notify/slack_dm.py) is kept in `slack_messages`
   when its job is done (`record`, the handler's `done`: in the job's finishing transaction, once).
2. `on_event`, a subscriber, enqueues one `notify.slack_sync` job for an event after which a task may wait
   for fewer people: the task completed (through Slack, an email link, the web form or the API), cancelled,
   reassigned, delegated or escalated, or its request cancelled or ended. It runs no query.
3. That job finds the task's (or request's) messages still open whose reader the task no longer waits for
   (`waiting`: the assignee, else the candidate users and the members of the candidate groups, of an open
   task) and, in its `done`, closes each one (`closed_at`, set once by a conditional UPDATE) and enqueues
   one `notify.slack_update` job per message: so one update per message, with any number of workers.
4. `notify.slack_update` renders the message from the task as it is when the job runs (who decided what
   and when, with the comment; or cancelled; or handed over to whom) and calls chat.update: 429s are
   retried after Retry-After, outages with backoff, Slack's refusals (a deleted message) fail the job.

A message posted after its task closed (the send job ran late) is closed by `record` at once. The message
a decider clicked is also updated by the interaction handler (engine/integration/slack/interactions.py);
the update from here says the same, so the two never disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.db.models import Event, Group, GroupMember, HumanTask, Job, ProcessInstance, SlackMessage, User
from engine.db.uow import rows_changed, settings_of
from engine.forms.components import form_fields
from engine.forms.decisions import DECIDED, is_decision_field, simple_decision
from engine.notify import rendering, slack_dm
from engine.runtime import jobs
from engine.slack import blocks

SYNC = "notify.slack_sync"
UPDATE = "notify.slack_update"
MAX_ATTEMPTS = 6
# Events after which a task may wait for fewer people (by the task the event names, or by its request).
TASK_EVENTS = frozenset({"task_completed", "task_cancelled", "task_reassigned", "task_delegated", "task_escalated"})
INSTANCE_EVENTS = frozenset({"instance_cancelled", "instance_completed"})
# The notification kinds whose DMs are about a task that waits for their reader.
KEPT_KINDS = rendering.DECISION_KINDS | {"sla_breached"}
QUEUED = "pmoflow_slack_sync"  # session.info: what this transaction queued already


def on_event(session: Session, event: Event, instance: ProcessInstance | None) -> None:
    """Enqueue a check of the Slack messages about the event's task (or request) when the Slack app is set up."""
    if event.type in TASK_EVENTS and event.task_uuid:
        payload = {"task": event.task_uuid}
    elif event.type in INSTANCE_EVENTS and instance is not None:
        payload = {"instance": instance.uuid}
    else:
        return
    settings = settings_of(session)
    if settings is None or not slack_dm.configured(settings):
        return
    queued = _queued(session)
    key = next(iter(payload.items()))
    if key in queued:
        return
    queued.add(key)
    jobs.enqueue(session, SYNC, {**payload, "event": event.type}, event.occurred_at, max_attempts=MAX_ATTEMPTS)


def _queued(session: Session) -> set[tuple[str, str]]:
    """What this transaction enqueued a check for already (forgotten when it ends)."""
    if QUEUED not in session.info:
        session.info[QUEUED] = set()

        def _forget(sess: Session, *args: Any) -> None:
            sess.info.pop(QUEUED, None)

        sa_event.listen(session, "after_commit", _forget, once=True)
        sa_event.listen(session, "after_soft_rollback", _forget, once=True)
    queued: set[tuple[str, str]] = session.info[QUEUED]
    return queued


def waiting(session: Session, task: HumanTask) -> frozenset[str]:
    """Who the task waits for: nobody once it is not open; its assignee; else its candidate users and the
    members of its candidate groups."""
    if task.status != "open":
        return frozenset()
    if task.assignee:
        return frozenset({task.assignee})
    members: list[str] = []
    if task.candidate_groups:
        members = list(
            session.scalars(
                select(User.username)
                .join(GroupMember, GroupMember.user_id == User.id)
                .join(Group, Group.id == GroupMember.group_id)
                .where(Group.name.in_(sorted(str(g) for g in task.candidate_groups)))
            )
        )
    return frozenset({*(str(u) for u in task.candidate_users or []), *members})


def record(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    """Keep a task DM the Slack app posted (`notify.slack`'s done); close it at once if its task no longer
    waits for its reader (the job ran after the task was decided)."""
    context = (job.payload or {}).get("context") or {}
    if not result or result.get("sent") != "slack_dm" or not result.get("ts") or not result.get("channel"):
        return
    if context.get("kind") not in KEPT_KINDS or not context.get("task_id"):
        return
    task = session.scalars(select(HumanTask).where(HumanTask.uuid == str(context["task_id"]))).first()
    channel, ts = str(result["channel"])[:32], str(result["ts"])[:32]
    known = select(SlackMessage.id).where(SlackMessage.channel == channel, SlackMessage.ts == ts)
    if task is None or session.scalar(known) is not None:  # never fail the finishing transaction: it would resend
        return
    now = ctx.clock.now()
    username = str(job.payload["username"])
    message = SlackMessage(
        task_id=task.id,
        username=username,
        slack_user=str(result["user"])[:32] if result.get("user") else None,
        channel=channel,
        ts=ts,
        buttons=bool(result.get("buttons")),
        posted_at=now,
    )
    session.add(message)
    session.flush()
    if username not in waiting(session, task):
        close(ctx, session, message.id)


def close(ctx: EngineContext, session: Session, message_id: int) -> bool:
    """Mark the message closed and enqueue its update, unless that was done already; True if done now."""
    now = ctx.clock.now()
    changed = session.execute(
        update(SlackMessage)
        .where(SlackMessage.id == message_id, SlackMessage.closed_at.is_(None))
        .values(closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not rows_changed(changed):
        return False
    jobs.enqueue(
        session,
        UPDATE,
        {"message": message_id},
        now,
        max_attempts=MAX_ATTEMPTS,
        dedupe_key=f"slack-update:{message_id}",
    )
    return True


def stale(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """`notify.slack_sync`: the open messages about the job's task or request whose reader it no longer waits for."""
    query = (
        select(SlackMessage, HumanTask)
        .join(HumanTask, HumanTask.id == SlackMessage.task_id)
        .where(SlackMessage.closed_at.is_(None))
        .order_by(SlackMessage.id)
    )
    if job.payload.get("task"):
        query = query.where(HumanTask.uuid == str(job.payload["task"]))
    else:
        query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id).where(
            ProcessInstance.uuid == str(job.payload.get("instance"))
        )
    found: list[int] = []
    with ctx.uow(write=False) as uow:
        people: dict[int, frozenset[str]] = {}
        for message, task in uow.session.execute(query).all():
            if task.id not in people:
                people[task.id] = waiting(uow.session, task)
            if message.username not in people[task.id]:
                found.append(message.id)
    return {"stale": found}


def close_stale(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    """`notify.slack_sync`'s done: close each stale message and enqueue its update (once per message)."""
    for message_id in (result or {}).get("stale") or []:
        close(ctx, session, int(message_id))


def refresh(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """`notify.slack_update`: replace a closed message by what its task came to; raises PermanentFailure,
    RetryLater (rate-limited), RuntimeError (retry)."""
    if not slack_dm.configured(ctx.settings):
        return {"skipped": "no Slack app is configured (PMOFLOW_SLACK_BOT_TOKEN)"}
    with ctx.uow(write=False) as uow:
        found = uow.session.execute(
            select(SlackMessage, HumanTask)
            .join(HumanTask, HumanTask.id == SlackMessage.task_id)
            .where(SlackMessage.id == int(job.payload["message"]))
        ).first()
        if found is None:
            return {"skipped": "the message's task is gone"}
        message, task = found
        body = closed_message(ctx, message, task)
        channel, ts = message.channel, message.ts
    slack_dm.call(ctx, "chat.update", {"channel": channel, "ts": ts, **body})
    return {"updated": "slack_dm", "channel": channel, "ts": ts}


def closed_message(ctx: EngineContext, message: SlackMessage, task: HumanTask) -> dict[str, Any]:
    """The message's new content: who decided what (a completed task), that its request was cancelled, that
    the process went on without it, or that it is now with someone else."""
    instance = task.instance
    definition = instance.definition
    process = definition.name or definition.key
    url = ctx.settings.base_url.rstrip("/") + f"/tasks/{task.uuid}"
    if task.status == "completed":
        decision, comment = decision_of(definition.forms.get(task.form_key or ""), task.data)
        by = task.completed_by or "someone"
        return blocks.decided_message(
            blocks.Decided(
                task_name=task.name,
                process=process,
                business_key=instance.business_key,
                decided_by=by,
                decision=decision,
                comment=comment,
                at=task.completed_at or ctx.clock.now(),
                url=url,
                slack_user=message.slack_user if by == message.username else None,
            )
        )
    if task.status != "open":
        cancelled = instance.status == "cancelled"
        why, reason = ("cancelled", instance.cancel_reason) if cancelled else ("closed", None)
        return blocks.withdrawn_message(
            blocks.Withdrawn(task.name, process, instance.business_key, why, task.completed_at, url, reason)
        )
    return blocks.withdrawn_message(
        blocks.Withdrawn(task.name, process, instance.business_key, "moved", None, url, now_with=task.assignee)
    )


def decision_of(form: object, data: dict[str, Any] | None) -> tuple[str, str | None]:
    """What a completed task decided ("approve", "reject", or "complete" when its form has no decision) and
    the comment given with it (for a simple decision's comment field)."""
    values = data or {}
    schema = form if isinstance(form, dict) else None
    fields = form_fields(schema) if schema else []
    key = next((f["key"] for f in fields if is_decision_field(f)), None)
    value = values.get(key) if key else None
    if value not in DECIDED:
        return "complete", None
    simple = simple_decision(schema)
    comment = values.get(simple.comment_key) if simple and simple.comment_key else None
    return str(value), comment.strip() if isinstance(comment, str) and comment.strip() else None


# The job handlers (registered by engine.bootstrap); `record` is `notify.slack`'s done (engine/notify/delivery.py).
JOBS = {
    SYNC: jobs.JobHandler(run=stale, done=close_stale),
    UPDATE: jobs.JobHandler(run=refresh),
}
