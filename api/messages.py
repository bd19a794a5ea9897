"""/api/v1/messages: correlate a named message to a waiting instance."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.core.records import InstanceView
from engine.runtime import messages

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint("messages", __name__, url_prefix="/api/v1/messages", description="Messages from outside.")


@blp.route("")
class Messages(MethodView):
    @blp.arguments(schemas.Message())
    @blp.response(200, schemas.Instance)
    @blp.alt_response(404, schema=schemas.Error, description="no instance waits for this message")
    def post(self, body: dict[str, Any]) -> InstanceView:
        """Deliver a message, by instance id or business key, with variables."""
        return messages.correlate(
            engine_ctx(),
            current_actor(),
            body["message"],
            body.get("instance_id"),
            body.get("business_key"),
            body["variables"],
        )
