"""The REST API for systems: `register(app)` mounts it under /api/v1."""

from __future__ import annotations

from flask import Flask, Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from engine.core.errors import PmoflowError

from . import audit, decisions, definitions, external_tasks, instances, messages, schemas, signals, tasks, webhooks
from .auth import authenticate_request, forget_token
from .errors import domain_error, http_error

BLUEPRINTS = (definitions.blp, instances.blp, tasks.blp, messages.blp, signals.blp, decisions.blp, audit.blp,
              webhooks.blp, external_tasks.blp)
for _blp in BLUEPRINTS:
    _blp.before_request(authenticate_request)   # once per process, not once per app


class PmoflowApi(Api):
    """flask-smorest's Api, answering and documenting errors in our one shape."""

    ERROR_SCHEMA = schemas.Error

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error(error)


def register(app: Flask) -> Api:
    """Mount the API blueprints, the OpenAPI document and the error handlers on `app`."""
    app.config.setdefault("API_TITLE", "pmoflow")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "info": {"description": "Start workflows, read their state and complete tasks. "
                                "Errors: {\"error\": {\"code\", \"message\", \"details\"}}."},
    })
    api = PmoflowApi(app)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    app.register_error_handler(PmoflowError, domain_error)
    app.teardown_request(forget_token)
    return api
