"""The web app's one error boundary: every domain error (engine.core.errors) and every HTTP error ends here.

`init_app(app)` registers one handler for both. It answers JSON in the API's shape
(`{"error": {"code", "message", "details"}}`, api/errors.py) when the route is a JSON one, and
the error page otherwise. JSON routes are chosen by route, not by the request's headers:
- every path under `/api/` (the API's blueprints, and any /api/ path that matched no route);
- page-blueprint views marked `@json_view` (the designer's save/validate/publish/content and
  the properties panel's endpoints); a 405 on such a path answers JSON too.

A page form that fails re-renders itself: its view catches the domain error it expects and
shows `field_errors(err)` with the status `status_of(err)` (the API's one table). Errors a view
does not catch (an unknown id, a refused permission) come here and show the error page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed

from api.errors import json_error, status_of
from api.scim import scim_error
from engine.core.errors import PmoflowError

__all__ = ["ERROR_TEXT", "field_errors", "init_app", "json_view", "status_of"]

View = TypeVar("View", bound=Callable[..., Any])

ERROR_TEXT = {
    403: ("Not allowed", "Your roles do not allow this page or action."),
    404: ("Not found", "There is nothing here. It may have been completed or removed."),
    429: ("Slow down", "Too many attempts. Wait a minute and try again."),
}


def json_view(view: View) -> View:
    """Mark a page blueprint's view as a JSON endpoint: its errors answer in the API's shape.

    The mark is a function attribute, so decorators built on functools.wraps (`requires`) carry it."""
    view.__dict__["answers_json"] = True
    return view


def field_errors(err: PmoflowError, general: str = "_") -> dict[str, str]:
    """Form field -> message from a domain error's details["fields"]; without fields, the message under `general`."""
    fields = err.details.get("fields") if isinstance(err.details, dict) else None
    return dict(fields) if isinstance(fields, dict) and fields else {general: err.message}


def init_app(app: Flask) -> None:
    """Register the one handler for domain errors and every HTTP error (the last registration wins)."""
    app.register_error_handler(PmoflowError, handle)
    app.register_error_handler(HTTPException, handle)
    app.register_error_handler(RecursionError, too_deep)
    app.register_error_handler(ValueError, undecodable)
    app.before_request(refuse_lone_surrogates)


def too_deep(err: RecursionError) -> Response:
    """A JSON body nested deeper than the decoder can recurse (Flask's and webargs' decoders raise
    RecursionError, not a ValueError they would answer 400 to) is a bad request; any other RecursionError is
    the server's fault and stays a 500."""
    if not request.is_json:
        raise err
    return handle(BadRequest("the JSON body nests too deeply"))


def undecodable(err: ValueError) -> Response:
    """A JSON body the decoder refused with a plain ValueError (a number of more than 4,300 digits, which Python
    will not convert; webargs catches only JSONDecodeError) is a bad request; any other ValueError stays a 500."""
    if not (request.is_json and _raised_in_json_decoder(err)):
        raise err
    return handle(BadRequest("the JSON body holds a number too long to read"))


def _raised_in_json_decoder(err: BaseException) -> bool:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("json.")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \uD800-\uDFFF: paired (an emoji) or lone


def refuse_lone_surrogates() -> Response | None:
    """A JSON body with a lone surrogate escape (`"\\ud800"`) decodes to text that cannot be written as UTF-8: the
    audit trail's hash, PostgreSQL and every reply would fail on it (a 500). It is a bad request. Only a body with
    such an escape (pairs included) is decoded here, to tell the two apart."""
    if not request.is_json or not _SURROGATE_ESCAPE.search(body := request.get_data(cache=True)):
        return None
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return handle(BadRequest("the JSON body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text"))
    except (ValueError, RecursionError):
        return None  # not JSON the view could read either: its parser answers
    return None


def handle(err: Exception) -> Response:
    """SCIM's Error under /scim/, JSON for JSON routes, else the error page with the status from the one table."""
    if request.path.startswith("/scim/"):
        response = scim_error(err)
    elif answers_json():
        response = json_error(err)
    else:
        response = _page(err)
    if isinstance(err, HTTPException):
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                response.headers.setdefault(name, value)
    return response


def answers_json() -> bool:
    """True on the API's paths and on views marked `@json_view` (see the module's docstring)."""
    if request.path.startswith("/api/"):
        return True
    view = current_app.view_functions.get(_endpoint() or "")
    return bool(getattr(view, "answers_json", False))


def _endpoint() -> str | None:
    """The matched endpoint; for a 405, the endpoint the path names for another method."""
    if request.endpoint:
        return request.endpoint
    refused = request.routing_exception
    if not isinstance(refused, MethodNotAllowed) or not refused.valid_methods:
        return None
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return None
    try:
        endpoint, _ = adapter.match(method=sorted(refused.valid_methods)[0])
    except HTTPException:
        return None
    return str(endpoint)


def _page(err: Exception) -> Response:
    if isinstance(err, PmoflowError):
        code, name, description = status_of(err), err.code.replace("_", " ").capitalize(), err.message
    else:
        assert isinstance(err, HTTPException)
        code, name, description = err.code or 500, err.name, err.description or ""
    title, message = ERROR_TEXT.get(code, (name, description))
    if code == 400 and "CSRF" in description:
        title, message = "Form expired", "The form was missing its security token. Reload the page and try again."
    return current_app.make_response((render_template("error.html", code=code, title=title, message=message), code))
