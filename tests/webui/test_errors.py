"""The one error boundary (webui/errors.py): the API and the designer's JSON endpoints answer errors in one
shape, 403 and 405 carry details, pages show the error page, and a page form shows a domain error's fields."""

from __future__ import annotations

from api.errors import json_error
from api.schemas import Error
from engine.core.errors import Conflict, Forbidden, InvalidInput
from tests.factories import make_token
from tests.webui.conftest import csrf_of
from tests.webui.test_designer_panel import FILES
from webui.errors import field_errors


def _shape(body: dict) -> tuple:
    error = body["error"]
    return sorted(body), sorted(error), sorted(error.get("details") or {})


def _api(app, roles: list[str]):  # type: ignore[no-untyped-def]
    token = make_token(app.extensions["pmoflow"], "robot", [], roles)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    return lambda method, url, **kw: client.open(url, method=method, headers=headers, **kw)


def test_a_designer_json_endpoint_answers_a_refusal_exactly_as_the_api_does(app, browser_of):
    api = _api(app, ["approver"])("GET", "/api/v1/webhooks")  # webhook.manage: admin only
    designer = browser_of("alice").get("/designer/drafts/anything/content")  # definition.design: not approvers
    assert api.status_code == designer.status_code == 403
    assert api.mimetype == designer.mimetype == "application/json"
    assert Error().validate(api.json) == {} and Error().validate(designer.json) == {}
    assert _shape(designer.json) == _shape(api.json)
    assert designer.json["error"]["code"] == api.json["error"]["code"] == "forbidden"
    assert designer.json["error"]["details"] == {
        "permission": "definition.design",
        "allowed_roles": ["admin", "designer"],
    }
    assert api.json["error"]["details"] == {"permission": "webhook.manage", "allowed_roles": ["admin"]}


def test_a_designer_json_endpoint_answers_not_found_and_bad_input_in_the_api_shape(app, browser_of):
    api = _api(app, ["admin"])("GET", "/api/v1/process-definitions/nothing-here")
    pmo = browser_of("pmo")
    designer = pmo.get("/designer/drafts/nothing-here/content")
    assert api.status_code == designer.status_code == 404
    assert _shape(designer.json) == _shape(api.json)
    assert designer.json["error"]["code"] == api.json["error"]["code"] == "not_found"
    csrf = csrf_of(pmo, "/account/password")
    refused = pmo.post("/designer/conditions/build", data="not json", headers={"X-CSRFToken": csrf})
    assert refused.status_code == 422 and Error().validate(refused.json) == {}
    assert refused.json["error"]["code"] == "invalid_input" and refused.json["error"]["details"]["fields"]
    no_token = pmo.post("/designer/drafts/nothing-here/save", json={})  # the CSRF check refuses first
    assert no_token.status_code == 400 and no_token.json["error"]["code"] == "bad_request"


def test_a_403_always_has_details(app):
    with app.test_request_context("/api/v1/tasks"):
        rule = json_error(Forbidden("bob started this request and may not also decide on it"))
    assert rule.status_code == 403
    assert rule.json["error"]["details"] == {"permission": None}  # a rule about this task, not a role


def test_a_405_names_the_allowed_methods_for_the_api_and_the_designer(app, browser_of):
    api = _api(app, ["admin"])("DELETE", "/api/v1/signals")
    assert api.status_code == 405 and api.json["error"]["code"] == "method_not_allowed"
    assert api.json["error"]["details"] == {"allowed_methods": ["OPTIONS", "POST"]}
    assert api.headers["Allow"] == "OPTIONS, POST"
    designer = browser_of("pmo").get("/designer/drafts/p1/save")
    assert designer.status_code == 405 and designer.mimetype == "application/json"
    assert designer.json["error"]["details"] == {"allowed_methods": ["OPTIONS", "POST"]}
    assert _shape(designer.json) == _shape(api.json)
    page = browser_of("pmo").put("/admin/users")  # a page: the error page, with Allow
    assert page.status_code == 405 and page.mimetype == "text/html" and "GET" in page.headers["Allow"]


def test_a_page_404_and_403_render_the_error_page(browser_of):
    missing = browser_of("pmo").get("/admin/users/nobody")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "There is nothing here" in missing.get_data(as_text=True)
    webhook = browser_of("pmo").get("/admin/webhooks/00000000-0000-0000-0000-000000000000")
    assert webhook.status_code == 404 and "There is nothing here" in webhook.get_data(as_text=True)
    refused = browser_of("alice").get("/admin/users")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "Your roles do not allow this page" in refused.get_data(as_text=True)


def test_a_page_form_with_a_domain_error_is_shown_again_with_its_field_errors(browser_of):
    admin = browser_of("pmo")
    taken = admin.post("/admin/groups", data={"name": "Finance", "csrf_token": csrf_of(admin, "/admin/groups")})
    assert taken.status_code == 409  # Conflict, from the one table
    page = taken.get_data(as_text=True)
    assert 'id="name-error"' in page and "exists already" in page and 'value="Finance"' in page
    bad = admin.post(
        "/admin/calendars",
        data={"name": "Ops", "time_zone": "Mars/Olympus", "csrf_token": csrf_of(admin, "/admin/calendars")},
    )
    assert bad.status_code == 422 and 'value="Mars/Olympus"' in bad.get_data(as_text=True)


def test_field_errors_names_each_field_or_puts_the_message_under_the_general_key():
    assert field_errors(InvalidInput("bad", {"fields": {"name": "required"}})) == {"name": "required"}
    assert field_errors(InvalidInput("bad")) == {"_": "bad"}
    assert field_errors(Conflict("taken", {"updated_by": "pmo"}), general="pattern") == {"pattern": "taken"}


def test_the_openapi_document_describes_the_one_error_shape(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    body = spec["components"]["schemas"]["ErrorBody"]
    assert body["required"] == ["code", "message"]
    assert "allowed_methods" in body["properties"]["details"]["description"]
    assert "permission" in body["properties"]["details"]["description"]
    for name in ("UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "UNPROCESSABLE_ENTITY", "BAD_REQUEST"):  # no catch-all
        assert spec["components"]["responses"][name]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_a_json_body_nested_deeper_than_the_decoder_goes_is_a_400_not_a_500(browser_of):
    pmo = browser_of("pmo")
    csrf = csrf_of(pmo, "/account/password")
    body = '{"files": {}, "variables": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    for url in ("/designer/dry-run", "/designer/conditions/build"):
        response = pmo.post(url, data=body, content_type="application/json", headers={"X-CSRFToken": csrf})
        assert response.status_code == 400, (url, response.get_data(as_text=True)[:200])
        assert response.json["error"] == {"code": "bad_request", "message": "the JSON body nests too deeply"}
    deep = pmo.post(
        "/designer/dry-run",
        json={"files": FILES, "variables": {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}},
        headers={"X-CSRFToken": csrf},
    )
    assert deep.status_code == 422 and deep.json["error"]["details"]["fields"] == {
        "variables.x": "nests deeper than 32 levels"
    }
