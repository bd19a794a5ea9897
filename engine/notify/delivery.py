"""The job handlers that send: email over SMTP, posts to Slack and Teams incoming webhooks.

They run in the worker outside any transaction. The address or webhook URL is read when the
job runs (a user who removed theirs since gets nothing). Failures that retrying cannot mend
(a refused recipient, a 4xx answer, a redirect) fail the job at once; the rest are retried
with backoff, a 429 after its Retry-After. Error texts never hold the SMTP password or a
webhook URL.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import httpx
from sqlalchemy import select

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import NotificationSetting, User
from engine.notify import rendering
from engine.notify.preferences import webhook_problem
from engine.runtime import jobs

log = logging.getLogger("pmoflow.outgoing")
SECURITY = ("starttls", "ssl", "none")
RETRY_AFTER_LIMIT = 3600


@dataclass(frozen=True)
class Target:
    email: str | None
    display_name: str
    slack: str | None
    teams: str | None


def _target(ctx: EngineContext, username: str) -> Target | None:
    with ctx.uow(write=False) as uow:
        row = uow.session.execute(
            select(User, NotificationSetting).outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
            .where(User.username == username)).first()
        if row is None or not row[0].active:
            return None
        user, setting = row
        return Target(user.email or None, user.display_name or user.username,
                      setting.slack_webhook_url if setting else None, setting.teams_webhook_url if setting else None)


def send_email(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Send one notification email; raises PermanentFailure for a refused address, anything else to retry."""
    settings = ctx.settings
    target = _target(ctx, job.payload["username"])
    if target is None or not target.email:
        return {"skipped": "the user has no email address or is inactive"}
    if not settings.smtp_host:
        return {"skipped": "no SMTP server is configured (PMOFLOW_SMTP_HOST)"}
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "pmoflow"
    mail = rendering.email(job.payload["context"], settings, target.email, target.display_name,
                           f"<{job.uuid}@{domain}>", ctx.clock.now())
    smtp_send(settings, mail)
    return {"sent": "email", "message_id": mail["Message-ID"]}


def smtp_send(settings: Settings, mail: EmailMessage) -> None:
    """Hand `mail` to the configured SMTP server; raises PermanentFailure (5xx for the recipient), else retryable."""
    if settings.smtp_security not in SECURITY:
        raise jobs.PermanentFailure(f"PMOFLOW_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
    tls = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_security == "ssl":
        client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, context=tls)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    try:
        client.ehlo()
        if settings.smtp_security == "starttls":
            client.starttls(context=tls)
            client.ehlo()
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as err:
        codes = [code for code, _ in err.recipients.values()]
        if all(code >= 500 for code in codes):
            raise jobs.PermanentFailure(f"the SMTP server refused the recipient ({codes[0]})") from None
        raise RuntimeError(f"the SMTP server deferred the recipient ({codes[0]})") from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
        if err.smtp_code >= 500:
            raise jobs.PermanentFailure(f"the SMTP server refused the message ({err.smtp_code})") from None
        raise RuntimeError(f"the SMTP server deferred the message ({err.smtp_code})") from None
    except smtplib.SMTPAuthenticationError as err:
        raise RuntimeError(f"SMTP sign-in failed ({err.smtp_code}); check PMOFLOW_SMTP_USERNAME/PASSWORD") from None
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def send_slack(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Post one notification to the user's Slack incoming webhook; raises PermanentFailure, RetryLater."""
    return _send_chat(ctx, job, "slack")


def send_teams(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """Post one notification to the user's Teams incoming webhook; raises PermanentFailure, RetryLater."""
    return _send_chat(ctx, job, "teams")


# One handler per channel (the kinds `recipients` enqueues), registered by engine.bootstrap.
JOBS = {"notify.email": jobs.JobHandler(run=send_email), "notify.slack": jobs.JobHandler(run=send_slack),
        "notify.teams": jobs.JobHandler(run=send_teams)}
CHAT = {"slack": ("Slack", rendering.slack), "teams": ("Teams", rendering.teams)}


def _send_chat(ctx: EngineContext, job: jobs.ClaimedJob, channel: str) -> dict[str, Any]:
    target = _target(ctx, job.payload["username"])
    url = getattr(target, channel) if target else None
    label, render = CHAT[channel]
    if not url:
        return {"skipped": f"the user has no {label} webhook"}
    return post(ctx.settings, channel, url, render(job.payload["context"], ctx.settings), job.uuid)


def post(settings: Settings, channel: str, url: str, body: dict[str, Any], job_uuid: str) -> dict[str, Any]:
    """POST `body` as JSON to a chat webhook without following redirects; raises PermanentFailure, RetryLater."""
    if problem := webhook_problem(url, channel, settings):
        raise jobs.PermanentFailure(f"the {channel} webhook URL is no longer allowed: it {problem}")
    try:
        with httpx.Client(timeout=settings.chat_timeout, follow_redirects=False) as client:
            response = client.post(url, json=body, headers={"User-Agent": "pmoflow", "Idempotency-Key": job_uuid})
    except httpx.HTTPError as err:          # the message may name the URL: keep only the kind of failure
        raise RuntimeError(f"posting to the {channel} webhook failed: {type(err).__name__}") from None
    status = response.status_code
    detail = " ".join(response.text[:200].split())
    if 200 <= status < 300:
        return {"sent": channel, "status": status}
    if status == 429:
        raise jobs.RetryLater(f"the {channel} webhook is rate-limited (429)", _retry_after(response))
    if 300 <= status < 400:
        raise jobs.PermanentFailure(f"the {channel} webhook answered with a redirect ({status}); not followed")
    if 400 <= status < 500:
        raise jobs.PermanentFailure(f"the {channel} webhook refused the post ({status}): {detail}")
    raise RuntimeError(f"the {channel} webhook failed ({status}): {detail}")


def _retry_after(response: httpx.Response) -> timedelta | None:
    raw = response.headers.get("Retry-After", "")
    return timedelta(seconds=min(int(raw), RETRY_AFTER_LIMIT)) if raw.isdigit() else None
