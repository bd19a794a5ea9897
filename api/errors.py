"""The one table from domain errors to HTTP statuses, and the one JSON error shape.

`json_error(err)` answers any error, a domain error (engine.core.errors) or an HTTP error, as
`{"error": {"code", "message", "details"}}`. The web app's error boundary (webui/errors.py) calls
it for the API and the designer's JSON endpoints, and takes `status_of` for its pages and forms.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from engine.core.errors import PmoflowError

STATUS: dict[str, int] = {
    "not_found": 404,
    "forbidden": 403,
    "unauthenticated": 401,
    "conflict": 409,
    "invalid_input": 422,
    "invalid_form_data": 422,
    "invalid_deployment": 422,
    "too_large": 413,
    "incident": 422,
    "decision_failed": 422,
    "provider_unavailable": 502,  # the OpenID provider could not be asked (engine/sso/provider.py)
    "logout_refused": 400,  # an invalid back-channel logout token (OpenID Connect Back-Channel Logout 1.0)
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}

NO_PERMISSION_DETAILS: dict[str, Any] = {"permission": None}
"""A 403 that is no role's question (a rule about this task or instance: see the message)."""


def status_of(err: PmoflowError) -> int:
    """The HTTP status of a domain error, from the one table (400 for a code it does not name)."""
    return STATUS.get(err.code, 400)


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """The one error shape; a 401 also asks for a bearer token, a 403 always carries details."""
    if status == 403 and details is None:
        details = NO_PERMISSION_DETAILS
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pmoflow"'
    return response


def domain_error(err: PmoflowError) -> Response:
    return error_response(status_of(err), err.code, err.message, err.details)


def http_error(err: HTTPException) -> Response:
    """An HTTP error in the one shape: webargs' field errors and a 405's allowed methods go to details."""
    status = err.code or 500
    details: dict[str, Any] | None = None
    message = err.description or err.name
    data = getattr(err, "data", None)
    if isinstance(data, dict) and "messages" in data:  # webargs / marshmallow validation
        details = {"fields": _flatten(data["messages"])}
        message = "invalid request: " + ", ".join(sorted(details["fields"]))
    if status == 413:
        message = "the request is too large"
    allowed = sorted(getattr(err, "valid_methods", None) or []) if status == 405 else []
    if status == 405:
        details = {"allowed_methods": allowed}
    response = error_response(status, HTTP_CODES.get(status, "error"), message, details)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def json_error(err: Exception) -> Response:
    """Any error as JSON in the one shape (a domain error by the table, an HTTP error by its status)."""
    if isinstance(err, PmoflowError):
        return domain_error(err)
    if isinstance(err, HTTPException):
        return http_error(err)
    raise TypeError(f"not an error this boundary answers: {err!r}")


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """webargs nests errors by location and field; we name each field once."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "form", "files", "headers") and not prefix:
                flat.update(_flatten(value, ""))
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    flat[name] = " ".join(value)
                else:
                    flat.update(_flatten(value, name))
    elif isinstance(messages, list):
        flat[prefix or "_"] = " ".join(str(m) for m in messages)
    return flat
