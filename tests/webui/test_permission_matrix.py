"""The role-by-route matrix: every route, for every kind of caller, gives the expected status.

A route the app serves but this table does not name fails the test, so no route is added
without deciding who may use it.
"""

from __future__ import annotations

import io

import pytest

from engine import users
from tests.bpmn_samples import one_approval
from tests.webui.conftest import intake, sign_in

CALLERS = ("anonymous", "approver", "designer", "auditor", "admin", "token")
SESSION_USER = {"approver": "alice", "designer": "dana", "auditor": "audrey", "admin": "pmo"}

# (method, rule) -> expected status per caller, in CALLERS order.
PAGES = {
    ("GET", "/"): (200, 200, 200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200, 200, 200),
    ("GET", "/login"): (200, 302, 302, 302, 302, 200),
    ("POST", "/login"): (401, 401, 401, 401, 401, 401),          # empty credentials
    ("GET", "/account/password"): (302, 200, 200, 200, 200, 302),
    ("POST", "/account/password"): (302, 422, 422, 422, 422, 302),  # wrong current password
    ("GET", "/tasks"): (302, 200, 200, 200, 200, 302),
    ("GET", "/tasks/<task_id>"): (302, 200, 403, 200, 200, 302),
    ("POST", "/tasks/<task_id>"): (302, 302, 403, 403, 302, 302),
    ("POST", "/tasks/<task_id>/claim"): (302, 302, 403, 403, 302, 302),
    ("POST", "/tasks/<task_id>/unclaim"): (302, 302, 403, 403, 302, 302),
    ("POST", "/logout"): (302, 302, 302, 302, 302, 302),        # last: it signs the caller out
}
API = {
    ("GET", "/api/v1/openapi.json"): (200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/process-definitions"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/process-definitions"): (401, 403, 201, 403, 201, 403),
    ("GET", "/api/v1/process-definitions/<key>"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/process-instances"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/process-instances"): (401, 201, 201, 403, 201, 201),
    ("GET", "/api/v1/process-instances/<instance_id>"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/process-instances/<instance_id>/cancel"): (401, 403, 403, 403, 200, 200),
    ("POST", "/api/v1/process-instances/<instance_id>/retry"): (401, 403, 403, 403, 409, 403),
    ("GET", "/api/v1/process-instances/<instance_id>/audit"): (401, 403, 403, 200, 200, 200),
    ("POST", "/api/v1/messages"): (401, 403, 403, 403, 404, 404),
    ("GET", "/api/v1/tasks"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/tasks/<task_id>"): (401, 200, 403, 200, 200, 200),
    ("POST", "/api/v1/tasks/<task_id>/complete"): (401, 200, 403, 403, 200, 403),
}
BODIES = {
    "/api/v1/process-instances": {"process": "project-intake", "variables": {"title": "t", "budget": 1,
                                                                            "department": "d"}},
    "/api/v1/process-instances/<instance_id>/cancel": {"reason": "matrix"},
    "/api/v1/process-instances/<instance_id>/retry": {"variables": {}},
    "/api/v1/messages": {"message": "nothing", "business_key": "none"},
    "/api/v1/tasks/<task_id>/complete": {"data": {"decision": "approve"}},
    "/tasks/<task_id>": {"decision": "approve"},
}


def test_every_route_is_in_the_matrix(app):
    served = {(m, r.rule) for r in app.url_map.iter_rules() if not r.rule.startswith("/static")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert served == set(PAGES) | set(API)


@pytest.fixture
def setup(app):
    ctx = app.extensions["pmoflow"]
    users.create_user(ctx, "dana", "demo", [], ["designer"])
    tokens = {caller: users.create_token(ctx, SESSION_USER.get(caller, "intake-bot"), "matrix")
              for caller in CALLERS if caller != "anonymous"}
    return ctx, tokens


def fill(rule: str, app) -> str:
    """A fresh instance and task per request, so one caller's action does not change another's."""
    view = intake(app, key="MATRIX")
    return (rule.replace("<task_id>", view.open_tasks[0].id).replace("<instance_id>", view.id)
            .replace("<key>", "project-intake"))


@pytest.mark.parametrize("caller", CALLERS)
def test_pages(app, setup, caller):
    client = app.test_client()
    if caller in SESSION_USER:
        assert sign_in(client, SESSION_USER[caller]).status_code == 302
    for (method, rule), expected in PAGES.items():
        url = fill(rule, app)
        if method == "GET":
            response = client.get(url)
        else:
            token = _token(client, app)
            response = client.post(url, data={**BODIES.get(rule, {}), "csrf_token": token})
        assert response.status_code == expected[CALLERS.index(caller)], (caller, method, rule)


def _token(client, app) -> str:
    """A CSRF token for this client's session (the sign-in page carries one for anyone)."""
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("caller", CALLERS)
def test_api(app, setup, caller):
    _, tokens = setup
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}
    for (method, rule), expected in API.items():
        url = fill(rule, app)
        if method == "GET":
            response = client.get(url, headers=headers)
        elif rule == "/api/v1/process-definitions":
            response = client.post(url, headers=headers, content_type="multipart/form-data",
                                   data={"files": [(io.BytesIO(one_approval(pid=f"m_{caller}").encode()), "m.bpmn")]})
        else:
            response = client.post(url, headers=headers, json=BODIES.get(rule, {}))
        assert response.status_code == expected[CALLERS.index(caller)], (caller, method, rule, response.json)
