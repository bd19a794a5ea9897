"""The job: one signed POST of a delivery through the guarded client (engine/outbound/client.py).

Headers ``webhook-id`` (the event's uuid, the same on every attempt), ``webhook-timestamp`` and
``webhook-signature`` (HMAC-SHA256 by the `standardwebhooks` library). The receiver's URL is
checked again (resolved) before each attempt, and the connection goes only to the addresses that
check accepted (no DNS rebinding); redirects are not followed. 2xx is delivered; 408, 429, 5xx
and network errors are retried with exponential backoff; other answers fail for good. Every
attempt is logged (time, status, duration, answer excerpt, error).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from standardwebhooks import Webhook

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput
from engine.db.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from engine.integration.webhooks.receivers import checked
from engine.integration.webhooks.records import KIND
from engine.integration.webhooks.signing import decrypt_secret
from engine.outbound import client, policy
from engine.runtime import jobs

TIMEOUT = 10.0  # seconds for connect, write and read
EXCERPT = 500  # characters of the answer kept per attempt
RETRY_AFTER_LIMIT = timedelta(hours=6)


def backoff(attempt: int) -> timedelta:
    """30 s, 2 min, 8 min, 32 min, ... capped at 6 hours (attempt counts from 1)."""
    return timedelta(seconds=min(6 * 3600, 30 * 4 ** (attempt - 1)))


@dataclass(frozen=True)
class _Target:
    delivery_id: int
    url: str
    secret: str
    event_uuid: str
    body: dict[str, Any]


def _target(ctx: EngineContext, delivery_uuid: str) -> _Target:
    with ctx.uow(write=False) as uow:
        found = uow.session.execute(
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription)
            .where(WebhookDelivery.uuid == delivery_uuid)
        ).first()
        if found is None:
            raise jobs.PermanentFailure("the webhook or this delivery was deleted")
        delivery, sub = found
        if not sub.active:
            raise jobs.PermanentFailure("the webhook is disabled")
        try:
            secret = decrypt_secret(ctx.settings.secret_key, sub.secret_encrypted)
        except (InvalidToken, InvalidInput) as err:
            raise jobs.PermanentFailure(
                "the signing secret cannot be decrypted (was PMOFLOW_SECRET_KEY changed?); rotate the webhook's secret"
            ) from err
        return _Target(delivery.id, sub.url, secret, delivery.event_uuid, dict(delivery.body))


def _log_attempt(
    ctx: EngineContext,
    target: _Target,
    job: jobs.ClaimedJob,
    at: datetime,
    outcome: str,
    *,
    status_code: int | None = None,
    duration_ms: int = 0,
    excerpt: str | None = None,
    error: str | None = None,
) -> None:
    with ctx.uow() as uow:
        uow.session.add(
            WebhookAttempt(
                delivery_id=target.delivery_id,
                attempt=job.attempt,
                at=at,
                status_code=status_code,
                duration_ms=duration_ms,
                response_excerpt=excerpt,
                error=error[: jobs.ERROR_LIMIT] if error else None,
                outcome=outcome,
            )
        )
        uow.commit()


def deliver(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """One signed POST; raises RetryLater or PermanentFailure for the job queue to act on."""
    target = _target(ctx, job.payload["delivery"])
    now = ctx.clock.now()
    last = job.attempt >= job.max_attempts
    allow_private = ctx.settings.webhooks_allow_private
    try:
        url, addresses = checked(target.url, allow_private)
    except InvalidInput as err:
        message = f"refused address: {err.details['fields']['url']}"
        _log_attempt(ctx, target, job, now, "failed", error=message)
        raise jobs.PermanentFailure(message) from err
    payload = json.dumps(target.body, separators=(",", ":"), ensure_ascii=False)
    headers = {
        "content-type": "application/json",
        "webhook-id": target.event_uuid,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(target.secret).sign(target.event_uuid, now, payload),
    }
    started = time.monotonic()
    try:
        response = client.send(
            "POST",
            url,
            allow_private=allow_private,
            timeout=TIMEOUT,
            headers=headers,
            body=payload.encode(),
            max_bytes=EXCERPT * 4,
            addresses=addresses,
        )
    except policy.AddressRefused as err:
        _log_attempt(
            ctx,
            target,
            job,
            now,
            "failed",
            duration_ms=int((time.monotonic() - started) * 1000),
            error=f"refused address: {err}",
        )
        raise jobs.PermanentFailure(f"refused address: {err}") from err
    except client.TransportError as err:
        _log_attempt(
            ctx,
            target,
            job,
            now,
            "failed" if last else "retry",
            duration_ms=int((time.monotonic() - started) * 1000),
            error=str(err),
        )
        raise jobs.RetryLater(str(err)) from err
    duration = int((time.monotonic() - started) * 1000)
    code = response.status
    excerpt = response.body.decode("utf-8", "replace")[:EXCERPT] if response.body else None
    if 200 <= code < 300:
        _log_attempt(ctx, target, job, now, "delivered", status_code=code, duration_ms=duration, excerpt=excerpt)
        return {"status_code": code}
    message = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    if code in (408, 429) or code >= 500:
        _log_attempt(
            ctx,
            target,
            job,
            now,
            "failed" if last else "retry",
            status_code=code,
            duration_ms=duration,
            excerpt=excerpt,
            error=message,
        )
        raise jobs.RetryLater(message, delay=response.retry_after(RETRY_AFTER_LIMIT) if code in (429, 503) else None)
    _log_attempt(
        ctx, target, job, now, "failed", status_code=code, duration_ms=duration, excerpt=excerpt, error=message
    )
    raise jobs.PermanentFailure(message)


# Registered by engine.bootstrap.
JOBS = {KIND: jobs.JobHandler(run=deliver, backoff=backoff, lease=timedelta(minutes=2))}
