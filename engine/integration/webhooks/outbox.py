"""The outbox: in the transaction of each event, one delivery and one job per matching active
subscription, so a rolled-back step sends nothing and nothing committed is lost.

`_on_write` does not query on its own: the active subscriptions (id and event types) are an
`audit.read_with_head` companion, read in the same statement as the audit chain's head when the
transaction's events are linked (at commit, or at the first read of events), after the chain
lock. So a step costs no extra statement whether or not subscriptions exist, nothing is cached
across transactions (no TTL, nothing to invalidate), and a subscription committed by any process
before an event is linked to the chain gets that event. Changes to webhooks themselves
(`webhook_*` events) are audited but not sent (no loops through redelivery).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.db.models import Event, ProcessInstance, WebhookDelivery, WebhookSubscription, new_uuid
from engine.events import stream as audit
from engine.integration.webhooks.records import KIND, MAX_ATTEMPTS
from engine.runtime import jobs

OWN_EVENTS = "webhook_"


def body_of(event: Event, instance: ProcessInstance | None) -> dict[str, Any]:
    """The Standard Webhooks payload of an event: type, timestamp, data."""
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": event.uuid,
            "instance_id": instance.uuid if instance is not None else None,
            "business_key": instance.business_key if instance is not None else None,
            "actor": event.actor,
            "task_id": event.task_uuid,
            "element_id": event.element_id,
            "details": dict(event.data or {}),
        },
    }


def _on_write(session: Session, subscriptions: list[tuple[int, Any]], batch: audit.Batch) -> None:
    """Deliveries and jobs for the events being linked to the chain (called with the active subscriptions)."""
    for event, instance in batch:
        if event.type.startswith(OWN_EVENTS):
            continue
        body = None
        for subscription_id, types in subscriptions:
            if "*" not in types and event.type not in types:
                continue
            body = body or body_of(event, instance)
            delivery = WebhookDelivery(
                uuid=new_uuid(),
                subscription_id=subscription_id,
                event_uuid=event.uuid,
                event_type=event.type,
                body=body,
                created_at=event.occurred_at,
            )
            delivery.job = jobs.enqueue(
                session, KIND, {"delivery": delivery.uuid}, event.occurred_at, max_attempts=MAX_ATTEMPTS
            )
            session.add(delivery)


# The active subscriptions, read with the chain head (registered by engine.bootstrap).
SUBSCRIPTIONS = audit.Companion(
    "webhooks", lambda: (WebhookSubscription.id, WebhookSubscription.event_types, WebhookSubscription.active), _on_write
)
