"""The REST API for systems: `register(app)` mounts it under /api/v1."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api

from . import audit, decisions, definitions, external_tasks, instances, me, messages, schemas, signals, tasks, webhooks
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
    me.blp,
)
for _blp in BLUEPRINTS:
    _blp.before_request(authenticate_request)  # once per process, not once per app


class ErrorResponses(BasePlugin):
    """Every status an operation can answer is in the document, and no catch-all `default`: each
    operation answers 401 (no or a bad token) and 403 (a role or a token scope refused); one with a
    path parameter 404; one that takes parameters or a body 422 (a field, named in details); one
    that takes a JSON body 400 (malformed JSON) and 413 (too large). What a view adds itself (409,
    the replayed start's 200) comes with its decorators. tests/api/test_openapi_fuzz.py holds the
    app to it."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            statuses = [401, 403]
            if path and "{" in path:
                statuses.append(404)
            if operation.get("parameters") or "requestBody" in operation:
                statuses.append(422)
            if "requestBody" in operation:
                statuses += [400, 413]
            for status in statuses:
                responses.setdefault(str(status), HTTPStatus(status).name)


class PmoflowApi(Api):
    """flask-smorest's Api, documenting errors in our one shape (`schemas.Error`).

    It registers no error handler of its own: the web app's one boundary (webui/errors.py) answers
    every domain and HTTP error, in this shape (api/errors.py) for every path under /api/. Its
    document lists every status an operation answers (ErrorResponses), without a `default`."""

    ERROR_SCHEMA = schemas.Error
    DEFAULT_ERROR_RESPONSE_NAME = None

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
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A pmoflow API token (pmo_...), or, with PMOFLOW_OIDC_API_AUDIENCE, an access "
                        "token (JWT) of the OpenID provider; scopes narrow the user's roles.",
                    }
                }
            },
            "security": [{"bearerAuth": []}],
            "info": {
                "description": "Start workflows, read their state and complete tasks. "
                'Errors: {"error": {"code", "message", "details"}}. A method a path does not offer is '
                "a 405 whose `Allow` header (and details.allowed_methods) lists the methods it does."
            },
        },
    )
    api = PmoflowApi(app, spec_kwargs={"extra_plugins": [ErrorResponses()]})
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    app.teardown_request(forget_token)
    return api
