"""The panel's JSON endpoints: condition builder and dry runs, CSRF and permissions."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.admin import users
from engine.db.models import ProcessInstance
from engine.definitions import deployments
from engine.sla import calendars
from engine.spiff.model.parsing import SourceFile
from tests.api.test_expressions_api import MODELS
from tests.bpmn_samples import lane, linear
from tests.designer.test_dryrun import FORM, review_process
from tests.designer.test_dryrun_due_dates import MODELS as DUE_MODELS
from tests.designer.test_dryrun_due_dates import SUPPORT
from tests.factories import ADMIN
from tests.webui.conftest import sign_in


@pytest.fixture
def designer(app):
    users.create_user(app.extensions["pmoflow"], "dana", "demo", [], ["designer"])
    client = app.test_client()
    assert sign_in(client, "dana").status_code == 302
    client.environ_base["HTTP_X_CSRFTOKEN"] = _token(client)
    return client


def _token(client) -> str:
    import re

    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


FILES = [
    {"name": "review.bpmn", "content": review_process()},
    {"name": "finance-review.form", "content": json.dumps(FORM)},
]


def test_the_pickers_offer_groups_and_calendars(designer):
    options = designer.get("/designer/panel/options")
    assert options.status_code == 200
    assert {"Finance", "IT Manager"} <= set(options.json["groups"])
    assert options.json["calendars"][0] == "default"
    assert options.json["default_group"] == "PMO Office"  # PMOFLOW_DEFAULT_GROUP


def test_build_and_parse_round_trip(designer):
    condition = {"any": [{"var": "amount", "op": ">=", "value": 1000}, {"var": "urgent", "op": "==", "value": True}]}
    built = designer.post("/designer/conditions/build", json={"condition": condition})
    assert built.status_code == 200
    assert built.json == {"expression": "amount >= 1000 or urgent == True"}
    parsed = designer.post("/designer/conditions/parse", json={"expression": built.json["expression"]})
    assert parsed.json == {"condition": condition, "reason": None, "problem": None}


def test_an_unreadable_expression_goes_to_the_raw_editor(designer):
    parsed = designer.post("/designer/conditions/parse", json={"expression": "len(items) > 2"})
    assert parsed.status_code == 200
    assert parsed.json["condition"] is None and "variable name" in parsed.json["reason"]
    assert parsed.json["problem"] is None


def test_an_expression_the_sandbox_refuses_is_named(designer):
    parsed = designer.post("/designer/conditions/parse", json={"expression": "__import__('os') == 1"})
    assert parsed.status_code == 200
    assert parsed.json["condition"] is None and parsed.json["problem"]


def test_a_bad_clause_is_a_422_naming_the_field(designer):
    response = designer.post(
        "/designer/conditions/build", json={"condition": {"all": [{"var": "a", "op": "like", "value": 1}]}}
    )
    assert response.status_code == 422
    assert "condition.all[0].op" in response.json["error"]["details"]["fields"]


def test_a_dry_run_walks_both_branches_and_touches_no_instance(designer, app):
    start = designer.post("/designer/dry-run", json={"files": FILES, "variables": {"title": "x"}})
    assert start.status_code == 200, start.json
    task = start.json["open_tasks"][0]
    assert task["form"]["id"] == "finance-review"
    small = designer.post(
        "/designer/dry-run",
        json={
            "files": FILES,
            "state": start.json["state"],
            "action": {"action": "complete", "task": task["id"], "data": {"amount": 1}},
        },
    )
    assert small.json["status"] == "completed" and small.json["path"][-1] == "done"
    big = designer.post(
        "/designer/dry-run",
        json={
            "files": FILES,
            "state": start.json["state"],
            "action": {"action": "complete", "task": task["id"], "data": {"amount": 10000}},
        },
    )
    assert [t["element_id"] for t in big.json["open_tasks"]] == ["board"]
    ctx = app.extensions["pmoflow"]
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_an_altered_state_is_refused(designer):
    start = designer.post("/designer/dry-run", json={"files": FILES})
    state = start.json["state"].replace('"now"', '"NOW"')
    response = designer.post("/designer/dry-run", json={"files": FILES, "state": state, "action": {"action": "timer"}})
    assert response.status_code == 422
    assert "altered" in response.json["error"]["message"]


def test_an_invalid_draft_lists_its_problems(designer):
    files = [{"name": "review.bpmn", "content": review_process().replace('attachedToRef="review"', "")}, FILES[1]]
    response = designer.post("/designer/dry-run", json={"files": files})
    assert response.status_code == 422
    assert response.json["error"]["details"]["problems"]


def test_without_the_csrf_token_nothing_runs(app):
    users.create_user(app.extensions["pmoflow"], "dana", "demo", [], ["designer"])
    client = app.test_client()
    sign_in(client, "dana")
    assert client.post("/designer/conditions/build", json={"condition": {}}).status_code == 400


def test_approvers_may_not_use_the_designer(browser_of):
    client = browser_of("alice")
    client.environ_base["HTTP_X_CSRFTOKEN"] = _token(client)
    assert client.post("/designer/dry-run", json={"files": FILES}).status_code == 403


def test_a_dry_run_calls_a_process_published_earlier(designer, app):
    deployments.deploy(
        app.extensions["pmoflow"],
        ADMIN,
        [SourceFile("c7_customer_check.bpmn", (MODELS / "c7_customer_check.bpmn").read_bytes())],
    )
    files = [{"name": n, "content": (MODELS / n).read_text()} for n in ("c7_invoice.bpmn", "invoice_risk.dmn")]
    run = designer.post(
        "/designer/dry-run",
        json={
            "files": files,
            "variables": {"amount": 100, "trusted": True, "customer": {"name": "Acme", "segment": "smb"}},
        },
    )
    assert run.status_code == 200, run.json
    assert run.json["status"] == "completed" and run.json["variables"]["checkResult"] == "ok"


def test_the_pickers_name_the_deployment_default_group(designer, app):
    options = designer.get("/designer/panel/options")
    assert options.json["default_group"] == app.extensions["pmoflow"].settings.default_group == "PMO Office"


EVENTS = [
    {
        "name": "vendor_events.bpmn",
        "content": (Path(__file__).parents[1] / "models" / "designer" / "vendor_events.bpmn").read_text(),
    }
]


def test_a_dry_run_throws_an_error_at_a_boundary_and_a_bad_throw_is_a_422(designer):
    started = designer.post("/designer/dry-run", json={"files": EVENTS, "variables": {"amount": 50}})
    assert started.status_code == 200
    assert {c["element_id"]: c["kind"] for c in started.json["catches"]} == {
        "frozen": "signal",
        "rejected": "error",
        "over_budget": "conditional",
    }
    thrown = designer.post(
        "/designer/dry-run",
        json={"files": EVENTS, "state": started.json["state"], "action": {"action": "throw", "element": "rejected"}},
    )
    assert thrown.status_code == 200
    assert thrown.json["status"] == "completed" and thrown.json["path"] == ["start", "rejected", "rejected_end"]
    nowhere = designer.post(
        "/designer/dry-run",
        json={"files": EVENTS, "state": started.json["state"], "action": {"action": "throw", "element": "go"}},
    )
    assert nowhere.status_code == 422 and "waits at 'go'" in nowhere.json["error"]["message"]


def test_a_dry_run_keeps_to_the_configured_step_budget(designer, app):
    """The dry run steps with the deployment's limits (PMOFLOW_MULTI_INSTANCE_LIMIT here), not the defaults."""
    ctx = app.extensions["pmoflow"]
    ctx.settings = replace(ctx.settings, multi_instance_limit=3)
    many = (
        '<bpmn:userTask id="review" name="Review"><bpmn:multiInstanceLoopCharacteristics>'
        '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:inputDataItem id="item" name="item"/>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    xml = linear((many, "review"), lanes=(lane("IT Manager", "review"),))
    run = designer.post(
        "/designer/dry-run", json={"files": [{"name": "mi.bpmn", "content": xml}], "variables": {"items": [1, 2, 3, 4]}}
    )
    assert run.status_code == 200, run.json
    assert run.json["incident"]["element_id"] == "review"
    assert run.json["incident"]["kind"] == "MultiInstanceLimit"
    within = designer.post(
        "/designer/dry-run", json={"files": [{"name": "mi.bpmn", "content": xml}], "variables": {"items": [1, 2, 3]}}
    )
    assert within.status_code == 200 and within.json["incident"] is None


def test_a_dry_run_counts_business_time_on_the_saved_calendars(designer, app):
    ctx = app.extensions["pmoflow"]
    calendars.save_calendar(ctx, ADMIN, SUPPORT, "Europe/Berlin", calendars.DEFAULT_HOURS, new=True)
    response = designer.post(
        "/designer/dry-run", json={"files": [{"name": "due.bpmn", "content": DUE_MODELS["boundary timer"]}]}
    )
    assert response.status_code == 200, response.json
    now = datetime.fromisoformat(response.json["now"])
    expected = calendars.snapshot(ctx)(SUPPORT).add(now, "P2D")
    assert datetime.fromisoformat(response.json["open_tasks"][0]["due_at"]) == expected
