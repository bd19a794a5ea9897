"""What the webhook services return (frozen views of subscriptions, deliveries and attempts) and
the row lookups they share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.errors import NotFound
from engine.db.models import Job, WebhookDelivery, WebhookSubscription

KIND = "webhook.deliver"  # the job that makes one attempt
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class SubscriptionView:
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IssuedSecret:
    """A subscription with its signing secret: returned on creation and rotation only."""

    subscription: SubscriptionView
    secret: str


@dataclass(frozen=True)
class DeliveryView:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: str  # pending | sending | retrying | delivered | failed
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class AttemptView:
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None
    outcome: str


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: DeliveryView
    body: dict[str, Any]
    attempts: list[AttemptView]


def subscription_view(row: WebhookSubscription) -> SubscriptionView:
    return SubscriptionView(
        id=row.uuid,
        url=row.url,
        event_types=list(row.event_types),
        description=row.description,
        active=row.active,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _status(job: Job | None) -> str:
    if job is None:
        return "failed"
    if job.status == "done":
        return "delivered"
    if job.status == "failed":
        return "failed"
    if job.status == "running":
        return "sending"
    return "retrying" if job.attempts else "pending"


def delivery_view(row: WebhookDelivery, subscription_uuid: str) -> DeliveryView:
    job = row.job
    waiting = job is not None and job.status == "pending"
    return DeliveryView(
        id=row.uuid,
        subscription_id=subscription_uuid,
        event_id=row.event_uuid,
        event_type=row.event_type,
        status=_status(job),
        attempts=job.attempts if job else 0,
        next_attempt_at=job.run_at if waiting and job else None,
        last_error=job.last_error if job else "its job was removed",
        created_at=row.created_at,
        finished_at=job.finished_at if job else None,
    )


def find_subscription(session: Session, subscription_id: str) -> WebhookSubscription:
    """The subscription row; raises NotFound."""
    row = session.scalars(select(WebhookSubscription).where(WebhookSubscription.uuid == subscription_id)).first()
    if row is None:
        raise NotFound(f"webhook {subscription_id!r} does not exist")
    return row


def find_delivery(
    session: Session, delivery_id: str, subscription_id: str | None = None
) -> tuple[WebhookDelivery, WebhookSubscription]:
    """The delivery row (of `subscription_id`, if given) with its subscription; raises NotFound."""
    found = session.execute(
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription)
        .where(WebhookDelivery.uuid == delivery_id)
    ).first()
    if found is None or (subscription_id is not None and found[1].uuid != subscription_id):
        raise NotFound(f"webhook delivery {delivery_id!r} does not exist")
    return found[0], found[1]
