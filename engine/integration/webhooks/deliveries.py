"""The delivery log of a subscription (one delivery per event, every attempt logged) and sending
a delivery again by hand (`redeliver`: one more attempt, the same webhook-id)."""

from __future__ import annotations

from sqlalchemy import select

from engine.core.context import EngineContext
from engine.core.errors import Conflict
from engine.core.permissions import Actor, require
from engine.db.models import WebhookAttempt, WebhookDelivery
from engine.events import stream as audit
from engine.integration.webhooks.records import (
    KIND,
    AttemptView,
    DeliveryDetail,
    DeliveryView,
    delivery_view,
    find_delivery,
    find_subscription,
)
from engine.runtime import jobs


def list_deliveries(ctx: EngineContext, actor: Actor, subscription_id: str, limit: int = 50) -> list[DeliveryView]:
    """The subscription's latest deliveries, newest first; raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    limit = max(1, min(limit, ctx.settings.page_size_max))
    with ctx.uow(write=False) as uow:
        sub = find_subscription(uow.session, subscription_id)
        rows = uow.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [delivery_view(r, sub.uuid) for r in rows]


def get_delivery(
    ctx: EngineContext, actor: Actor, delivery_id: str, subscription_id: str | None = None
) -> DeliveryDetail:
    """A delivery (of `subscription_id`, if given) with its body and every attempt; raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    with ctx.uow(write=False) as uow:
        row, sub = find_delivery(uow.session, delivery_id, subscription_id)
        attempts = uow.session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id == row.id).order_by(WebhookAttempt.id)
        )
        return DeliveryDetail(
            delivery=delivery_view(row, sub.uuid),
            body=dict(row.body),
            attempts=[
                AttemptView(
                    attempt=a.attempt,
                    at=a.at,
                    status_code=a.status_code,
                    duration_ms=a.duration_ms,
                    response_excerpt=a.response_excerpt,
                    error=a.error,
                    outcome=a.outcome,
                )
                for a in attempts
            ],
        )


def redeliver(ctx: EngineContext, actor: Actor, delivery_id: str, subscription_id: str | None = None) -> DeliveryView:
    """Send a delivery again now (one more attempt, the same webhook-id); raises Forbidden, NotFound, Conflict."""
    require(actor, "webhook.manage")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row, sub = find_delivery(uow.session, delivery_id, subscription_id)
        if not sub.active:
            raise Conflict("the webhook is disabled; enable it before sending again")
        if row.job is not None and row.job.status == "running":
            raise Conflict("this delivery is being sent right now")
        if row.job is None:
            row.job = jobs.enqueue(uow.session, KIND, {"delivery": row.uuid}, now, max_attempts=1)
        else:  # a delivery waiting for its next try keeps its remaining attempts
            remaining = row.job.max_attempts - row.job.attempts if row.job.status == "pending" else 1
            jobs.requeue(uow.session, row.job, now, extra_attempts=max(1, remaining))
        audit.record(
            uow.session,
            "webhook_redelivered",
            now,
            actor=actor.username,
            data={"webhook_id": sub.uuid, "delivery_id": row.uuid, "event_id": row.event_uuid},
        )
        uow.session.flush()
        view = delivery_view(row, sub.uuid)
        uow.commit()
    return view
