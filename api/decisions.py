"""/api/v1/decisions: read deployed DMN decisions and evaluate them (decisions as a service)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.definitions import decisions
from engine.definitions.decisions import DecisionResult, DecisionView

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint(
    "decisions",
    __name__,
    url_prefix="/api/v1/decisions",
    description="Read deployed decisions and evaluate them with inputs.",
)


@blp.route("")
class Decisions(MethodView):
    @blp.response(200, schemas.Decision(many=True))
    def get(self) -> list[DecisionView]:
        """The latest version of every deployed decision."""
        return decisions.list_decisions(engine_ctx(), current_actor())


@blp.route("/<key>")
class DecisionByKey(MethodView):
    @blp.response(200, schemas.DecisionDetail)
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, key: str) -> dict[str, object]:
        """Every version of one decision, newest first."""
        versions = decisions.get_decision(engine_ctx(), current_actor(), key)
        return {"key": key, "latest": versions[0], "versions": versions}


@blp.route("/<key>/evaluate")
class EvaluateDecision(MethodView):
    @blp.arguments(schemas.EvaluateDecision())
    @blp.response(200, schemas.DecisionEvaluation)
    @blp.alt_response(404, schema=schemas.Error, description="no such decision or version")
    @blp.alt_response(
        422,
        schema=schemas.Error,
        description="the evaluation failed (code decision_failed; details name rule and column)",
    )
    def post(self, body: dict[str, Any], key: str) -> DecisionResult:
        """Evaluate the latest (or a given) version of a decision or decision service with inputs (JSON; ISO text
        for inputs typed date, time or duration); returns outputs, matched rules and the trace."""
        return decisions.evaluate(engine_ctx(), current_actor(), key, body["inputs"], body.get("version"))
