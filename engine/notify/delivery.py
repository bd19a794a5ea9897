"""The job handlers that send: email (engine.outbound.smtp), posts to Slack and Teams incoming
webhooks (engine.outbound.client, under the one address policy, `chat_webhook_allow_private`).

They run in the worker outside any transaction. The address or webhook URL is read when the
job runs (a user who removed theirs since gets nothing). Failures that retrying cannot mend
(a refused recipient, a 4xx answer, a redirect) fail the job at once; the rest are retried
with backoff, a 429 after its Retry-After. Error texts never hold the SMTP password or a
webhook URL.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import NotificationSetting, User
from engine.notify import actions, rendering, slack_dm, slack_sync, summary
from engine.notify.preferences import webhook_problem
from engine.outbound import client, policy, smtp
from engine.runtime import jobs

log = logging.getLogger("pmoflow.outgoing")
RETRY_AFTER_LIMIT = timedelta(hours=1)
CHAT_ANSWER_BYTES = 64 * 1024  # of a chat service's answer, read at most


@dataclass(frozen=True)
class Target:
    email: str | None
    display_name: str
    slack: str | None
    teams: str | None


def _target(ctx: EngineContext, username: str) -> Target | None:
    with ctx.uow(write=False) as uow:
        row = uow.session.execute(
            select(User, NotificationSetting)
            .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
            .where(User.username == username)
        ).first()
        if row is None or not row[0].active:
            return None
        user, setting = row
        return Target(
            user.email or None,
            user.display_name or user.username,
            setting.slack_webhook_url if setting else None,
            setting.teams_webhook_url if setting else None,
        )


def send_email(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Send one notification email; raises PermanentFailure for a refused address, anything else to retry."""
    settings = ctx.settings
    target = _target(ctx, job.payload["username"])
    if target is None or not target.email:
        return {"skipped": "the user has no email address or is inactive"}
    if not settings.smtp_host:
        return {"skipped": "no SMTP server is configured (PMOFLOW_SMTP_HOST)"}
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "pmoflow"
    context = job.payload["context"]
    if context.get("kind") == "digest":  # the daily digest (engine/notify/digest.py)
        mail = summary.email(
            context, settings, target.email, target.display_name, f"<{job.uuid}@{domain}>", ctx.clock.now()
        )
    else:
        mail = rendering.email(
            context,
            settings,
            target.email,
            target.display_name,
            f"<{job.uuid}@{domain}>",
            ctx.clock.now(),
            _offer(ctx, context, job.payload["username"], "email"),
        )
    try:
        smtp.send_mail(settings, mail)
    except smtp.MailRejected as err:
        raise jobs.PermanentFailure(str(err)) from None
    except smtp.MailDeferred as err:
        raise RuntimeError(str(err)) from None
    return {"sent": "email", "message_id": mail["Message-ID"]}


def send_slack(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Post one notification as a direct message from the Slack app when one is configured and finds the
    user, else to the user's Slack incoming webhook; raises PermanentFailure, RetryLater."""
    if slack_dm.configured(ctx.settings) and (sent := slack_dm.send(ctx, job)) is not None:
        return sent
    return _send_chat(ctx, job, "slack")


def send_teams(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Post one notification to the user's Teams incoming webhook; raises PermanentFailure, RetryLater."""
    return _send_chat(ctx, job, "teams")


# One handler per channel (the kinds `recipients` enqueues), registered by engine.bootstrap.
JOBS = {
    "notify.email": jobs.JobHandler(run=send_email),
    "notify.slack": jobs.JobHandler(run=send_slack, done=slack_sync.record),  # a DM is kept, to update it later
    "notify.teams": jobs.JobHandler(run=send_teams),
}
CHAT = {"slack": "Slack", "teams": "Teams"}


def _offer(ctx: EngineContext, context: dict[str, Any], username: str, channel: str) -> rendering.Offer | None:
    """Approve / Reject links for a message about a decision task (read when the job runs: a task decided since
    gets none), else None."""
    if context.get("kind") not in rendering.DECISION_KINDS:
        return None
    return actions.links_for(ctx, context.get("task_id"), username, channel)


def _send_chat(ctx: EngineContext, job: jobs.ClaimedJob, channel: str) -> dict[str, Any]:
    """A person's chat message through their incoming webhook (a Slack app's DM is tried first: `send_slack`)."""
    target = _target(ctx, job.payload["username"])
    url = getattr(target, channel) if target else None
    if not url:
        return {"skipped": f"the user has no {CHAT[channel]} webhook"}
    context = job.payload["context"]
    if context.get("kind") == "digest":  # the daily digest (engine/notify/digest.py)
        body = summary.teams(context, ctx.settings) if channel == "teams" else summary.slack(context, ctx.settings)
    elif channel == "teams":
        body = rendering.teams(context, ctx.settings, _offer(ctx, context, job.payload["username"], "teams"))
    else:
        body = rendering.slack(context, ctx.settings)
    return post(ctx.settings, channel, url, body, job.uuid)


def post(settings: Settings, channel: str, url: str, body: dict[str, Any], job_uuid: str) -> dict[str, Any]:
    """POST `body` as JSON to a chat webhook through the guarded client; raises PermanentFailure, RetryLater."""
    if problem := webhook_problem(url, channel, settings):
        raise jobs.PermanentFailure(f"the {channel} webhook URL is no longer allowed: it {problem}")
    try:
        response = client.send(
            "POST",
            url,
            allow_private=settings.chat_webhook_allow_private,
            timeout=settings.chat_timeout,
            max_bytes=CHAT_ANSWER_BYTES,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "pmoflow", "Idempotency-Key": job_uuid},
        )
    except policy.AddressRefused as err:  # the host only: the URL's path is the secret
        raise jobs.PermanentFailure(f"the {channel} webhook's host is refused: {err}") from None
    except client.TransportError as err:  # keep only the kind of failure
        raise RuntimeError(f"posting to the {channel} webhook failed: {err.kind}") from None
    status = response.status
    detail = " ".join(response.body[:800].decode("utf-8", "replace")[:200].split())
    if 200 <= status < 300:
        return {"sent": channel, "status": status}
    if status == 429:
        raise jobs.RetryLater(f"the {channel} webhook is rate-limited (429)", response.retry_after(RETRY_AFTER_LIMIT))
    if 300 <= status < 400:
        raise jobs.PermanentFailure(f"the {channel} webhook answered with a redirect ({status}); not followed")
    if 400 <= status < 500:
        raise jobs.PermanentFailure(f"the {channel} webhook refused the post ({status}): {detail}")
    raise RuntimeError(f"the {channel} webhook failed ({status}): {detail}")
