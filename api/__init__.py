"""The REST API for systems: `register(app)` mounts it under /api/v1."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from . import audit, decisions, definitions, external_tasks, instances, messages, schemas, signals, tasks, webhooks
from .auth import authenticate_request, forget_token

BLUEPRINTS = (
    definitions.blp,
    instances.blp,
    tasks.blp,
    messages.blp,
    signals.blp,
    decisions.blp,
    audit.blp,
    webhooks.blp,
    external_tasks.blp,
)
for _blp in BLUEPRINTS:
    _blp.before_request(authenticate_request)  # once per process, not once per app


class PmoflowApi(Api):
    """flask-smorest's Api, documenting errors in our one shape (`schemas.Error`).

    It registers no error handler of its own: the web app's one boundary (webui/errors.py) answers
    every domain and HTTP error, in this shape (api/errors.py) for every path under /api/."""

    ERROR_SCHEMA = schemas.Error

    def _register_error_handlers(self) -> None:
        """The app's error boundary (webui.errors.init_app) is the one handler; flask-smorest adds none."""


def register(app: Flask) -> Api:
    """Mount the API blueprints and the OpenAPI document on `app` (errors: webui.errors.init_app)."""
    app.config.setdefault("API_TITLE", "pmoflow")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
            "info": {
                "description": "Start workflows, read their state and complete tasks. "
                'Errors: {"error": {"code", "message", "details"}}.'
            },
        },
    )
    api = PmoflowApi(app)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    app.teardown_request(forget_token)
    return api
