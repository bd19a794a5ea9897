"""/api/v1/webhooks: subscriptions of systems to events, their delivery log and redelivery (admin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.integration import webhooks
from engine.integration.webhooks import DeliveryDetail, DeliveryView, SubscriptionView

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Admin: send events to systems as signed HTTP POSTs (Standard Webhooks).",
)


def _event_types(required: bool) -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=60)),
        required=required,
        validate=validate.Length(min=1),
        metadata={"description": 'event types to send, or ["*"] for every event'},
    )


class Webhook(Schema):
    id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    description = fields.String()
    active = fields.Boolean()
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookWithSecret(Webhook):
    secret = fields.String(
        metadata={
            "description": "whsec_<base64>: shown only in this answer; verify the webhook-signature header with it"
        }
    )


class CreateWebhook(schemas.Strict):
    url = fields.String(required=True, metadata={"description": "https URL of the receiver"})
    event_types = _event_types(required=True)
    description = fields.String(load_default="", validate=validate.Length(max=webhooks.MAX_DESCRIPTION))
    active = fields.Boolean(load_default=True)


class UpdateWebhook(schemas.Strict):
    url = fields.String()
    event_types = _event_types(required=False)
    description = fields.String(validate=validate.Length(max=webhooks.MAX_DESCRIPTION))
    active = fields.Boolean()


class WebhookDelivery(Schema):
    id = fields.String()
    subscription_id = fields.String()
    event_id = fields.String(metadata={"description": "the webhook-id header: the same on every attempt"})
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending, sending, retrying, delivered or failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class WebhookAttempt(Schema):
    attempt = fields.Integer()
    at = fields.DateTime()
    status_code = fields.Integer(allow_none=True)
    duration_ms = fields.Integer()
    response_excerpt = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    outcome = fields.String(metadata={"description": "delivered, retry or failed"})


class WebhookDeliveryDetail(Schema):
    delivery = fields.Nested(WebhookDelivery)
    body = fields.Dict(metadata={"description": "the JSON body sent: type, timestamp, data"})
    attempts = fields.List(fields.Nested(WebhookAttempt))


class WebhookDeliveryQuery(schemas.Strict):
    limit = schemas.Whole(1, 200, load_default=50)


NO_STORE = {"Cache-Control": "no-store"}  # answers that carry a signing secret


def _with_secret(issued: webhooks.IssuedSecret) -> dict[str, Any]:
    return {**asdict(issued.subscription), "secret": issued.secret}


@blp.route("")
class Webhooks(MethodView):
    @blp.response(200, Webhook(many=True))
    def get(self) -> list[SubscriptionView]:
        """Every webhook subscription (without secrets)."""
        return webhooks.list_subscriptions(engine_ctx(), current_actor())

    @blp.arguments(CreateWebhook())
    @blp.response(201, WebhookWithSecret)
    @blp.alt_response(422, schema=schemas.Error, description="a refused URL or unknown fields, each named")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Subscribe a URL to event types; the answer holds the signing secret, shown only this once."""
        issued = webhooks.create_subscription(
            engine_ctx(), current_actor(), body["url"], body["event_types"], body["description"], body["active"]
        )
        return _with_secret(issued), 201, NO_STORE


@blp.route("/<webhook_id>")
class WebhookById(MethodView):
    @blp.response(200, Webhook)
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, webhook_id: str) -> SubscriptionView:
        """One subscription."""
        return webhooks.get_subscription(engine_ctx(), current_actor(), webhook_id)

    @blp.arguments(UpdateWebhook())
    @blp.response(200, Webhook)
    @blp.alt_response(404, schema=schemas.Error)
    def patch(self, body: dict[str, Any], webhook_id: str) -> SubscriptionView:
        """Change the URL, event types, description or active flag (the fields given)."""
        return webhooks.update_subscription(engine_ctx(), current_actor(), webhook_id, **body)

    @blp.response(204)
    @blp.alt_response(404, schema=schemas.Error)
    def delete(self, webhook_id: str) -> None:
        """Delete a subscription and its delivery log; deliveries not yet sent are dropped."""
        webhooks.delete_subscription(engine_ctx(), current_actor(), webhook_id)


@blp.route("/<webhook_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.response(200, WebhookWithSecret)
    @blp.alt_response(404, schema=schemas.Error)
    def post(self, webhook_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A new signing secret, used from the next attempt on; shown only in this answer."""
        return _with_secret(webhooks.rotate_secret(engine_ctx(), current_actor(), webhook_id)), 200, NO_STORE


@blp.route("/<webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(WebhookDeliveryQuery(), location="query")
    @blp.response(200, WebhookDelivery(many=True))
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, args: dict[str, Any], webhook_id: str) -> list[DeliveryView]:
        """The latest deliveries, newest first."""
        return webhooks.list_deliveries(engine_ctx(), current_actor(), webhook_id, args["limit"])


@blp.route("/<webhook_id>/deliveries/<delivery_id>")
class DeliveryById(MethodView):
    @blp.response(200, WebhookDeliveryDetail)
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, webhook_id: str, delivery_id: str) -> DeliveryDetail:
        """One delivery: the body sent and every attempt (time, status code, duration, answer excerpt, error)."""
        return webhooks.get_delivery(engine_ctx(), current_actor(), delivery_id, webhook_id)


@blp.route("/<webhook_id>/deliveries/<delivery_id>/redeliver")
class Redeliver(MethodView):
    @blp.response(200, WebhookDelivery)
    @blp.alt_response(409, schema=schemas.Error, description="the webhook is disabled or the delivery is in flight")
    def post(self, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Send the delivery again now (one more attempt, the same webhook-id)."""
        return webhooks.redeliver(engine_ctx(), current_actor(), delivery_id, webhook_id)
