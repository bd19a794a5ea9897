"""/api/v1/signals: broadcast a named signal to every instance waiting for it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.runtime import signals
from engine.runtime.signals import SignalResult

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint("signals", __name__, url_prefix="/api/v1/signals", description="Signals: one to many.")


@blp.route("")
class Signals(MethodView):
    @blp.arguments(schemas.Signal())
    @blp.response(200, schemas.SignalResult)
    def post(self, body: dict[str, Any]) -> SignalResult:
        """Broadcast a signal to every waiting instance (and start processes with that signal start event);
        answers how many instances it reached."""
        return signals.send(engine_ctx(), current_actor(), body["signal"], body["variables"])
