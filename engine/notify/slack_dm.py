"""A `notify.slack` job as a direct message from pmoflow's bot (engine.notify.delivery calls `send` first).

The user is found on Slack (`accounts.slack_user_for`); their DM channel is opened (conversations.open)
and the message posted (chat.postMessage). Assignment, reminder and escalation messages of an open task
whose form is a simple decision (`engine.forms.decisions.simple_decision`) carry Approve and Reject while the
admin's switch `slack_actions` is on (engine/admin/channels.py, read for each message); every other message
carries Open. Returns None when the bot cannot reach the user, so the incoming webhook
(if they set one) is used instead. The messages are built by engine.slack.blocks; `call` maps Slack's
answers to a job's outcomes (for engine/notify/slack_sync.py's updates too). The result names the channel,
the message's `ts` and the Slack user, so the message can be updated once its task closes (slack_sync.record).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.admin.channels import enabled
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import HumanTask
from engine.forms.decisions import simple_decision
from engine.notify import rendering, summary
from engine.runtime import jobs
from engine.slack import accounts, api, blocks


def configured(settings: Settings) -> bool:
    """Whether a Slack app is set up to send direct messages (a bot token)."""
    return bool(settings.slack_bot_token)


def send(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any] | None:
    """Post the job's notification to the user's Slack DM; None if they are not reachable by the bot.
    Raises jobs.PermanentFailure (Slack refused), jobs.RetryLater (rate-limited), RuntimeError (retry)."""
    try:
        slack_user = accounts.slack_user_for(ctx, job.payload["username"])
    except api.SlackError as err:
        raise jobs.PermanentFailure(str(err)) from None
    except api.SlackUnavailable as err:
        raise _retry(err) from None
    if slack_user is None:
        return None
    context = job.payload["context"]
    if context.get("kind") == "digest":  # the daily digest (engine/notify/digest.py): its own blocks
        decision, body = False, summary.slack(context, ctx.settings)
    else:
        task_id = context.get("task_id") if context.get("kind") != "instance_finished" else None
        decision = bool(task_id) and context.get("kind") in rendering.DECISION_KINDS and decidable(ctx, str(task_id))
        url = rendering.message(context, ctx.settings).url
        body = blocks.task_message(rendering.slack(context, ctx.settings), task_id, url, decision)
    opened = call(ctx, "conversations.open", {"users": slack_user})
    channel = str((opened.get("channel") or {}).get("id") or slack_user)
    posted = call(ctx, "chat.postMessage", {"channel": channel, **body, "unfurl_links": False})
    return {"sent": "slack_dm", "channel": channel, "ts": posted.get("ts"), "buttons": decision, "user": slack_user}


def call(ctx: EngineContext, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One Web API call from a job: raises jobs.PermanentFailure (Slack refused), jobs.RetryLater
    (rate-limited: after its Retry-After), RuntimeError (an outage: retried with backoff)."""
    try:
        return api.call(ctx.settings, method, payload)
    except api.SlackError as err:
        raise jobs.PermanentFailure(str(err)) from None
    except api.SlackUnavailable as err:
        raise _retry(err) from None


def _retry(err: api.SlackUnavailable) -> Exception:
    if err.retry_after is not None:
        return jobs.RetryLater(str(err), err.retry_after)
    return RuntimeError(str(err))


def decidable(ctx: EngineContext, task_id: str) -> bool:
    """Whether deciding from Slack is on, the task is open and its form asks for nothing but the decision (and
    perhaps a comment)."""
    with ctx.uow(write=False) as uow:
        if not enabled(ctx, "slack_actions", uow.session):
            return False
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).first()
        if row is None or row.status != "open":
            return False
        form = row.instance.definition.forms.get(row.form_key or "")
        return simple_decision(form if isinstance(form, dict) else None) is not None
