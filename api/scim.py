"""SCIM 2.0 at /scim/v2 (RFC 7644): Users, Groups and the discovery endpoints, for identity providers.

Views parse the query and the JSON body, call one service of `engine/scim`, and answer
`application/scim+json`. Authentication is the API's bearer token (`auth.py`); the services
require `scim.provision` (the token's scope `scim`). Every error on these paths, a domain
error or an HTTP one, is a SCIM Error (`scim_error`, called by the app's one error boundary).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from engine.core.errors import PmoflowError
from engine.scim import discovery, groups, users
from engine.scim.documents import projected
from engine.scim.errors import ERROR, LIST_RESPONSE, ScimError
from engine.scim.resources import Page

from .auth import authenticate_request, current_actor
from .context import engine_ctx
from .errors import STATUS

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
bp.before_request(authenticate_request)
MEDIA_TYPE = "application/scim+json"


def scim_error(err: Exception) -> Response:
    """Any error as RFC 7644's Error: `schemas`, `status` (a string), `scimType` when it has one, `detail`."""
    scim_type = ""
    if isinstance(err, ScimError):
        status, detail, scim_type = err.status, err.message, err.scim_type
    elif isinstance(err, PmoflowError):
        status, detail = (400 if err.code == "invalid_input" else STATUS.get(err.code, 400)), err.message
    elif isinstance(err, HTTPException):
        status, detail = err.code or 500, err.description or err.name
        scim_type = "invalidSyntax" if status == 400 else ""
    else:
        raise TypeError(f"not an error this boundary answers: {err!r}")
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    response = _answer(body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pmoflow"'
    if isinstance(err, HTTPException):
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                response.headers.setdefault(name, value)
    return response


def _answer(body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    version = (body.get("meta") or {}).get("version") if isinstance(body.get("meta"), dict) else None
    if version:
        response.headers["ETag"] = version
    if location:
        response.headers["Location"] = location
    return response


def _base() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix if bp.url_prefix else request.url_root


def _located(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    doc = dict(doc)
    doc["meta"] = {**doc["meta"], "location": f"{_base()}/{kind}/{doc['id']}"}
    return doc


def _body() -> Any:
    """The request's JSON (application/scim+json or application/json); raises ScimError (400 invalidSyntax)."""
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):
        raise ScimError(400, "the body is not valid JSON", "invalidSyntax") from None


def _int(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ScimError(400, f"{name} must be an integer", "invalidValue") from None
    if abs(value) > 2**31 - 1:
        raise ScimError(400, f"{name} is out of range", "invalidValue")
    return value


def _if_match() -> str | None:
    return request.headers.get("If-Match")


def _projected(doc: dict[str, Any]) -> dict[str, Any]:
    return projected(doc, request.args.get("attributes"), request.args.get("excludedAttributes"))


def _page(page: Page, kind: str) -> Response:
    resources = [_projected(_located(doc, kind)) for doc in page.resources]
    body = {"schemas": [LIST_RESPONSE], "totalResults": page.total, "startIndex": page.start_index}
    return _answer(body | {"itemsPerPage": len(resources), "Resources": resources})


def _one(doc: dict[str, Any], kind: str, status: int = 200) -> Response:
    located = _located(doc, kind)
    return _answer(_projected(located), status, located["meta"]["location"] if status == 201 else None)


def _with_members() -> bool:
    """Groups' members are left out (and not loaded) when `excludedAttributes` names them, as Entra ID asks."""
    excluded = request.args.get("excludedAttributes") or ""
    attributes = request.args.get("attributes")
    names = {a.strip().lower() for a in excluded.split(",")}
    wanted = {a.strip().split(".")[0].lower() for a in attributes.split(",")} if attributes else {"members"}
    return "members" not in names and "members" in wanted


@bp.get("/Users")
def list_users() -> Response:
    """Users, filtered (`filter`), paged (`startIndex`, `count`)."""
    page = users.list_users(
        engine_ctx(), current_actor(), request.args.get("filter"), _int("startIndex"), _int("count")
    )
    return _page(page, "Users")


@bp.post("/Users")
def create_user() -> Response:
    return _one(users.create_user(engine_ctx(), current_actor(), _body()), "Users", 201)


@bp.get("/Users/<user_id>")
def get_user(user_id: str) -> Response:
    return _one(users.get_user(engine_ctx(), current_actor(), user_id), "Users")


@bp.put("/Users/<user_id>")
def replace_user(user_id: str) -> Response:
    return _one(users.replace_user(engine_ctx(), current_actor(), user_id, _body(), _if_match()), "Users")


@bp.patch("/Users/<user_id>")
def patch_user(user_id: str) -> Response:
    return _one(users.patch_user(engine_ctx(), current_actor(), user_id, _body(), _if_match()), "Users")


@bp.delete("/Users/<user_id>")
def delete_user(user_id: str) -> Response:
    users.delete_user(engine_ctx(), current_actor(), user_id, _if_match())
    return Response(status=204)


@bp.get("/Groups")
def list_groups() -> Response:
    """Groups, filtered, paged; without members when `excludedAttributes=members`."""
    page = groups.list_groups(
        engine_ctx(),
        current_actor(),
        request.args.get("filter"),
        _int("startIndex"),
        _int("count"),
        _with_members(),
    )
    return _page(page, "Groups")


@bp.post("/Groups")
def create_group() -> Response:
    return _one(groups.create_group(engine_ctx(), current_actor(), _body()), "Groups", 201)


@bp.get("/Groups/<group_id>")
def get_group(group_id: str) -> Response:
    return _one(groups.get_group(engine_ctx(), current_actor(), group_id, _with_members()), "Groups")


@bp.put("/Groups/<group_id>")
def replace_group(group_id: str) -> Response:
    return _one(groups.replace_group(engine_ctx(), current_actor(), group_id, _body(), _if_match()), "Groups")


@bp.patch("/Groups/<group_id>")
def patch_group(group_id: str) -> Response:
    return _one(groups.patch_group(engine_ctx(), current_actor(), group_id, _body(), _if_match()), "Groups")


@bp.delete("/Groups/<group_id>")
def delete_group(group_id: str) -> Response:
    groups.delete_group(engine_ctx(), current_actor(), group_id, _if_match())
    return Response(status=204)


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    discovery.permitted(current_actor())
    return _answer(discovery.service_provider_config(_base()))


@bp.get("/ResourceTypes")
def resource_types() -> Response:
    discovery.permitted(current_actor())
    return _answer(discovery.listed([discovery.resource_type(_base(), n) for n in discovery.RESOURCE_TYPES]))


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> Response:
    discovery.permitted(current_actor())
    return _answer(discovery.resource_type(_base(), name))


@bp.get("/Schemas")
def schemas() -> Response:
    discovery.permitted(current_actor())
    return _answer(discovery.listed([discovery.schema(_base(), urn) for urn in discovery.SCHEMAS]))


@bp.get("/Schemas/<urn>")
def schema(urn: str) -> Response:
    discovery.permitted(current_actor())
    return _answer(discovery.schema(_base(), urn))
