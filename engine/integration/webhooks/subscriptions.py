"""Webhook subscriptions: who gets which event types at which URL, managed by admins (webhook.manage).

Deleting a subscription takes the audit chain's lock first (`audit.lock`), so a writer holding
that lock never waits for the deleted row (no deadlock on the delivery's foreign key; see
outbox.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput
from engine.core.permissions import Actor, require
from engine.db.models import Job, WebhookDelivery, WebhookSubscription
from engine.events import stream as audit
from engine.integration.webhooks.receivers import check_url
from engine.integration.webhooks.records import IssuedSecret, SubscriptionView, find_subscription, subscription_view
from engine.integration.webhooks.signing import encrypt_secret, new_secret

MAX_DESCRIPTION = 500
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,59}$")
# Event types offered in the forms (others may be typed in; '*' means every event).
KNOWN_EVENT_TYPES = (
    "instance_started",
    "instance_completed",
    "instance_cancelled",
    "task_created",
    "task_completed",
    "task_cancelled",
    "task_delegated",
    "approval_decided",
    "decision_evaluated",
    "timer_fired",
    "sla_breached",
    "incident_raised",
    "incident_retried",
    "message_received",
    "signal_received",
    "comment_added",
    "attachment_added",
    "definition_deployed",
    "decision_deployed",
    "external_task_created",
    "external_task_completed",
    "external_task_failed",
)


def _check_types(event_types: list[str] | str) -> list[str]:
    if isinstance(event_types, str):
        event_types = [t for t in re.split(r"[\s,]+", event_types) if t]
    cleaned = sorted({t.strip() for t in event_types if t and t.strip()})
    if not cleaned:
        raise InvalidInput(
            "event_types: choose at least one event type, or * for every event",
            {"fields": {"event_types": "Choose at least one event type, or * for every event."}},
        )
    bad = [t for t in cleaned if t != "*" and not EVENT_TYPE.match(t)]
    if bad:
        message = f"Not an event type name: {', '.join(bad)} (lower case letters, digits, _ and .)."
        raise InvalidInput(f"event_types: {message}", {"fields": {"event_types": message}})
    return ["*"] if "*" in cleaned else cleaned


def _check_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        message = f"Use at most {MAX_DESCRIPTION} characters."
        raise InvalidInput(f"description: {message}", {"fields": {"description": message}})
    return description


def list_subscriptions(ctx: EngineContext, actor: Actor) -> list[SubscriptionView]:
    """Every subscription, oldest first; raises Forbidden."""
    require(actor, "webhook.manage")
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
        return [subscription_view(r) for r in rows]


def get_subscription(ctx: EngineContext, actor: Actor, subscription_id: str) -> SubscriptionView:
    """One subscription (without its secret); raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    with ctx.uow(write=False) as uow:
        return subscription_view(find_subscription(uow.session, subscription_id))


def create_subscription(
    ctx: EngineContext,
    actor: Actor,
    url: str,
    event_types: list[str] | str,
    description: str = "",
    active: bool = True,
) -> IssuedSecret:
    """Subscribe `url` to events; the new secret is in the result only. Raises Forbidden, InvalidInput."""
    require(actor, "webhook.manage")
    fields: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, check in (
        ("url", lambda: check_url(url, ctx.settings.webhooks_allow_private)),
        ("event_types", lambda: _check_types(event_types)),
        ("description", lambda: _check_description(description)),
    ):
        try:
            values[name] = check()
        except InvalidInput as err:
            fields.update(err.details["fields"])
    if fields:
        raise InvalidInput("; ".join(f"{k}: {v}" for k, v in fields.items()), {"fields": fields})
    secret = new_secret()
    encrypted = encrypt_secret(ctx.settings.secret_key, secret)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = WebhookSubscription(
            url=values["url"],
            event_types=values["event_types"],
            description=values["description"],
            active=bool(active),
            secret_encrypted=encrypted,
            created_by=actor.username,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(row)
        uow.session.flush()
        audit.record(
            uow.session,
            "webhook_created",
            now,
            actor=actor.username,
            data={"webhook_id": row.uuid, "url": row.url, "event_types": row.event_types},
        )
        issued = IssuedSecret(subscription_view(row), secret)
        uow.commit()
    return issued


def update_subscription(
    ctx: EngineContext,
    actor: Actor,
    subscription_id: str,
    *,
    url: str | None = None,
    event_types: list[str] | str | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> SubscriptionView:
    """Change the given fields; raises Forbidden, NotFound, InvalidInput."""
    require(actor, "webhook.manage")
    fields: dict[str, str] = {}
    changes: dict[str, Any] = {}
    checks: list[tuple[str, Callable[[], Any]]] = []
    if url is not None:
        checks.append(("url", lambda: check_url(url, ctx.settings.webhooks_allow_private)))
    if event_types is not None:
        checks.append(("event_types", lambda: _check_types(event_types)))
    if description is not None:
        checks.append(("description", lambda: _check_description(description)))
    for name, check in checks:
        try:
            changes[name] = check()
        except InvalidInput as err:
            fields.update(err.details["fields"])
    if active is not None:
        changes["active"] = bool(active)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = find_subscription(uow.session, subscription_id)
        if fields:
            raise InvalidInput("; ".join(f"{k}: {v}" for k, v in fields.items()), {"fields": fields})
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = now
        audit.record(
            uow.session,
            "webhook_updated",
            now,
            actor=actor.username,
            data={"webhook_id": row.uuid, "changed": sorted(changes)},
        )
        view = subscription_view(row)
        uow.commit()
    return view


def rotate_secret(ctx: EngineContext, actor: Actor, subscription_id: str) -> IssuedSecret:
    """A new signing secret, used from the next attempt on; shown in the result only. Raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    secret = new_secret()
    encrypted = encrypt_secret(ctx.settings.secret_key, secret)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = find_subscription(uow.session, subscription_id)
        row.secret_encrypted = encrypted
        row.updated_at = now
        audit.record(uow.session, "webhook_secret_rotated", now, actor=actor.username, data={"webhook_id": row.uuid})
        issued = IssuedSecret(subscription_view(row), secret)
        uow.commit()
    return issued


def delete_subscription(ctx: EngineContext, actor: Actor, subscription_id: str) -> None:
    """Delete a subscription with its delivery log; pending deliveries are dropped. Raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        audit.lock(uow.session)  # before the row lock: see audit.read_with_head
        row = find_subscription(uow.session, subscription_id)
        pending = select(WebhookDelivery.job_id).where(WebhookDelivery.subscription_id == row.id)
        for job in uow.session.scalars(select(Job).where(Job.id.in_(pending), Job.status == "pending")):
            job.status = "failed"
            job.last_error = "the webhook was deleted"
            job.finished_at = now
        uow.session.delete(row)
        audit.record(
            uow.session, "webhook_deleted", now, actor=actor.username, data={"webhook_id": row.uuid, "url": row.url}
        )
        uow.commit()
