"""/api/v1/audit: search the audit trail and check its hash chain (needs `audit.read`)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.audit import trail as audit_trail
from engine.audit.trail import AuditFilter, AuditPage
from engine.core import bounds
from engine.events import stream

from .auth import current_actor
from .context import engine_ctx
from .schemas import Moment, Strict, Whole

blp = Blueprint(
    "audit_api",
    __name__,
    url_prefix="/api/v1/audit",
    description="The tamper-evident audit trail: every action, hash-chained.",
)


class EventQuery(Strict):
    process = fields.String(validate=validate.Length(max=200), metadata={"description": "process key"})
    business_key = fields.String(validate=validate.Length(max=200))
    actor = fields.String(validate=validate.Length(max=80), metadata={"description": "who acted"})
    action = fields.String(validate=validate.Length(max=60), metadata={"description": "event type"})
    instance_id = fields.String(validate=validate.Length(max=36))
    since = Moment(metadata={"description": "ISO 8601, inclusive"})
    until = Moment(metadata={"description": "ISO 8601, inclusive"})
    text = fields.String(validate=validate.Length(min=3, max=200), metadata={"description": "in the event's data"})
    before = Whole(1, bounds.BIGINT_MAX, metadata={"description": "next_before of a page"})
    per_page = Whole(1, 500, load_default=50)


class AuditEntry(Schema):
    seq = fields.Integer()
    id = fields.String()
    occurred_at = fields.DateTime()
    type = fields.String()
    actor = fields.String(allow_none=True)
    actor_kind = fields.String(metadata={"description": "user, token or system"})
    token_id = fields.Integer(allow_none=True)
    on_behalf_of = fields.String(allow_none=True)
    instance_id = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    definition_key = fields.String(allow_none=True)
    definition_version = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    summary = fields.String()
    data = fields.Dict()
    hash = fields.String()


class EventPage(Schema):
    items = fields.List(fields.Nested(AuditEntry))
    next_before = fields.Integer(allow_none=True, metadata={"description": "pass as `before` for older events"})


class BrokenLink(Schema):
    seq = fields.Integer()
    event_id = fields.String()
    problem = fields.String(metadata={"description": "changed, missing or reordered"})
    detail = fields.String()


class Verification(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    head_seq = fields.Integer()
    head_hash = fields.String()
    broken = fields.Nested(BrokenLink, allow_none=True)


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventQuery(), location="query")
    @blp.response(200, EventPage)
    def get(self, args: dict[str, Any]) -> AuditPage:
        """Events matching every filter given, newest first; page with `before`."""
        return audit_trail.search(engine_ctx(), current_actor(), AuditFilter(**args))


@blp.route("/verify")
class Verify(MethodView):
    @blp.response(200, Verification)
    def get(self) -> stream.Verification:
        """Check the hash chain; `broken` names the first changed, missing or reordered event."""
        return audit_trail.verify(engine_ctx(), current_actor())
