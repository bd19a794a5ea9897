"""What the MIWG reference models need, in models written as their tools write them, run through the API:
flows without conditions leaving gateways (itp-commerce, Signavio), XPath conditions with multi-word names,
dotted and spaced Camunda 8 mapping targets, start-event output mappings, decisions deployed earlier."""

from __future__ import annotations

import io
from pathlib import Path

from tests.api.journeys import instance, start
from tests.api.journeys import path_of as path
from tests.factories import make_token

MODELS = Path(__file__).parent.parent / "models" / "miwg"


def deploy(as_, *names: str, status: int = 201, replace: dict[str, str] | None = None) -> dict:
    files = []
    for name in names:
        text = (MODELS / name).read_text()
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        files.append((io.BytesIO(text.encode()), name))
    response = as_("pmo").post("/api/v1/process-definitions", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == status, response.json
    return response.json


def test_unconditioned_flows_leaving_gateways_are_taken_as_bpmn_says(as_):
    """Exclusive: the first flow in document order whose condition holds or that has none (task_second is
    drawn above task_first and never taken); inclusive: an unconditioned flow always, the default never."""
    deploy(as_, "gateways_unconditioned.bpmn")
    small = start(as_, "order_routing", {"Order Total": 5, "vip": False})
    assert instance(as_, small["id"])["status"] == "completed"
    assert path(as_, small["id"]) == [
        "start",
        "gw_route",
        "task_first",
        "merge",
        "gw_notify",
        "task_log",
        "gw_join",
        "end",
    ]
    assert instance(as_, small["id"])["variables"]["route"] == "first"

    large = start(as_, "order_routing", {"Order Total": 5000, "vip": True})
    got = instance(as_, large["id"])
    assert got["status"] == "completed"
    steps = path(as_, large["id"])
    assert steps[:5] == ["start", "gw_route", "task_big", "merge", "gw_notify"]
    assert sorted(steps[5:7]) == ["task_log", "task_vip"] and steps[7:] == ["gw_join", "end"]
    assert got["variables"]["route"] == "big" and got["variables"]["told"] is True
    assert "nobody" not in got["variables"]


def test_camunda8_dotted_and_spaced_targets_and_start_event_outputs(as_, engine_ctx, tokens):
    """C.9.0's send tasks map to `from.email` (a nested value, created if missing) and Trisotech to names with
    spaces; a start event's output mappings set variables as the instance starts."""
    tokens["mailer"] = make_token(engine_ctx, "mailer", [], ["external-worker"])
    deploy(as_, "c8_mappings.bpmn")
    started = start(
        as_,
        "welcome_mail",
        {"corporation": "Acme", "applicant": {"name": "Ann", "email": "ann@x.example"}, "meta": {"source": "portal"}},
    )
    fetched = as_("mailer").post(
        "/api/v1/external-tasks/fetch-and-lock",
        json={
            "worker_id": "mail-1",
            "max_tasks": 1,
            "topics": [{"name": "io.camunda:sendgrid:1", "lock_duration_ms": 30_000}],
        },
    )
    assert fetched.status_code == 200, fetched.json
    [task] = fetched.json
    sent = task["variables"]
    assert sent["from"] == {"email": "demo@acme.example", "name": "Acme"}
    assert sent["to"] == {"email": "ann@x.example", "name": "Ann"}
    assert sent["Mail Subject"] == "Welcome, Ann" and sent["documentReferenceId"] == "DOC-Ann"
    assert sent["meta"] == {"source": "portal", "channel": "web"}  # the existing context keeps its keys
    done = as_("mailer").post(
        f"/api/v1/external-tasks/{task['id']}/complete", json={"worker_id": "mail-1", "variables": {"status": "sent"}}
    )
    assert done.status_code in (200, 204), done.json
    got = instance(as_, started["id"])
    assert got["status"] == "completed"
    assert path(as_, started["id"]) == ["StartEvent_Received", "Task_SendWelcome", "EndEvent_Sent"]
    assert got["variables"]["Delivery Status"] == "sent"
    assert got["variables"]["meta"] == {"source": "portal", "channel": "web", "delivered": True}


def test_a_business_rule_task_uses_a_decision_published_in_an_earlier_deployment(as_):
    """Camunda deploys DMN on its own: the latest version by default, the one camunda:decisionRefVersion names
    with the binding 'version'; the process keeps the version it was deployed with."""
    deploy(as_, "invoice_route.dmn")  # version 1: big -> "manual"
    deploy(as_, "invoice_route.dmn", replace={'"manual"': '"review"'})  # version 2: big -> "review"
    deploy(as_, "c7_routing.bpmn")
    latest = start(as_, "invoice_routing", {"amount": 5000})
    assert instance(as_, latest["id"])["status"] == "completed"
    assert instance(as_, latest["id"])["variables"]["route"] == "review"
    assert path(as_, latest["id"]) == ["StartEvent_1", "Activity_route", "EndEvent_1"]

    deploy(as_, "invoice_route.dmn", replace={'"manual"': '"escalate"'})  # version 3, published later
    again = start(as_, "invoice_routing", {"amount": 5000})
    assert instance(as_, again["id"])["variables"]["route"] == "review"  # pinned at deploy

    deploy(
        as_,
        "c7_routing.bpmn",
        replace={
            'camunda:resultVariable="route"': 'camunda:resultVariable="route" '
            'camunda:decisionRefBinding="version" camunda:decisionRefVersion="1"'
        },
    )
    pinned = start(as_, "invoice_routing", {"amount": 5000})
    assert instance(as_, pinned["id"])["variables"]["route"] == "manual"


def test_a_decision_nobody_published_is_a_deploy_problem(as_):
    refused = deploy(as_, "c7_routing.bpmn", status=422)
    [problem] = refused["error"]["details"]["problems"]
    assert problem["element_id"] == "Activity_route" and problem["code"] == "missing_decision" and problem["line"]
    assert "neither in this deployment" in problem["message"]
    deploy(as_, "invoice_route.dmn")
    refused = deploy(
        as_,
        "c7_routing.bpmn",
        status=422,
        replace={
            'camunda:resultVariable="route"': 'camunda:resultVariable="route" camunda:decisionRefBinding="version" '
            'camunda:decisionRefVersion="7"'
        },
    )
    assert "version 7 of decision 'invoice_route'" in refused["error"]["details"]["problems"][0]["message"]
    refused = deploy(
        as_,
        "c7_routing.bpmn",
        status=422,
        replace={
            'camunda:resultVariable="route"': 'camunda:resultVariable="route" camunda:decisionRefBinding="versionTag"'
        },
    )
    assert refused["error"]["details"]["problems"][0]["code"] == "unsupported_binding"
