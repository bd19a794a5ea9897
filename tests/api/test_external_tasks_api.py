"""/api/v1/external-tasks: the worker loop over HTTP, models deployed as Camunda Modeler writes them,
bounded input in the one error shape, and the external-worker role that may do nothing else."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from tests.api.journeys import path_of as path
from tests.factories import make_token

MODELS = Path(__file__).resolve().parent.parent / "models" / "external"
BASE = "/api/v1/external-tasks"


@pytest.fixture
def worker(app, engine_ctx, tokens, as_):  # type: ignore[no-untyped-def]
    """The caller of a user whose only role is external-worker."""
    tokens["erp-worker"] = make_token(engine_ctx, "erp-worker", [], ["external-worker"])
    return as_("erp-worker")


def deploy(as_, name: str) -> None:
    body = {"files": [(io.BytesIO((MODELS / name).read_bytes()), name)]}
    response = as_("pmo").post("/api/v1/process-definitions", data=body, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def start(as_, process: str, **variables) -> dict:
    response = as_("bot").post(
        "/api/v1/process-instances", json={"process": process, "business_key": "ORD-7", "variables": variables}
    )
    assert response.status_code == 201, response.json
    return response.json


def fetch(worker, topic: str, worker_id: str = "erp-1", **topic_extra) -> list[dict]:
    response = worker.post(
        f"{BASE}/fetch-and-lock",
        json={
            "worker_id": worker_id,
            "max_tasks": 5,
            "topics": [{"name": topic, "lock_duration_ms": 30_000, **topic_extra}],
        },
    )
    assert response.status_code == 200, response.json
    return response.json


def test_the_worker_loop_runs_a_camunda8_model_to_the_end(as_, worker):
    deploy(as_, "camunda8_fulfilment.bpmn")
    instance = start(as_, "fulfilment_c8", order={"sku": "A-1", "qty": 2})
    for topic, result in (
        ("reserve-stock", {"reservation": {"id": "R-5"}}),
        ("print-label", {"label": "L-1"}),
        ("ship", {"tracking": "Z-1"}),
    ):
        [task] = fetch(worker, topic, variables=["order"])
        assert task["variables"] == {"order": {"sku": "A-1", "qty": 2}} and task["business_key"] == "ORD-7"
        assert task["process"] == "fulfilment_c8" and task["instance_id"] == instance["id"]
        done = worker.post(f"{BASE}/{task['id']}/complete", json={"worker_id": "erp-1", "variables": result})
        assert done.status_code == 200 and done.json["status"] == "completed", done.json
    assert done.json["instance_status"] == "completed"
    assert path(as_, instance["id"]) == ["StartEvent_1", "Task_reserve", "Task_label", "Task_ship", "Event_shipped"]
    variables = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json["variables"]
    assert (variables["reservationId"], variables["label"], variables["tracking"]) == ("R-5", "L-1", "Z-1")
    events = as_("audrey").get(f"/api/v1/process-instances/{instance['id']}/audit").json["events"]
    completed = [e for e in events if e["type"] == "external_task_completed"]
    assert [e["actor"] for e in completed] == ["erp-worker"] * 3
    assert all(e["data"]["worker_id"] == "erp-1" for e in completed)


def test_a_camunda7_bpmn_error_is_caught_by_the_boundary(as_, worker):
    deploy(as_, "camunda7_payment.bpmn")
    instance = start(as_, "payment_c7", amount=99)
    [charge] = fetch(worker, "charge-card")
    thrown = worker.post(
        f"{BASE}/{charge['id']}/bpmn-error",
        json={
            "worker_id": "erp-1",
            "error_code": "CARD_DECLINED",
            "error_message": "limit",
            "variables": {"why": "limit"},
        },
    )
    assert thrown.status_code == 200 and thrown.json["status"] == "bpmn_error", thrown.json
    [notify] = fetch(worker, "notify-customer")
    assert notify["variables"]["why"] == "limit"
    worker.post(f"{BASE}/{notify['id']}/complete", json={"worker_id": "erp-1"})
    assert path(as_, instance["id"]) == ["StartEvent_1", "Event_declined", "Activity_notify", "Event_not_paid"]


def test_failure_without_retries_is_an_incident_the_monitor_shows(app, as_, worker, engine_ctx):
    deploy(as_, "camunda7_payment.bpmn")
    instance = start(as_, "payment_c7", amount=99)
    [charge] = fetch(worker, "charge-card")
    failed = worker.post(
        f"{BASE}/{charge['id']}/failure", json={"worker_id": "erp-1", "message": "card service down", "retries": 0}
    )
    assert failed.status_code == 200 and failed.json["instance_status"] == "error"
    got = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json
    assert got["status"] == "error"
    listed = as_("pmo").get(f"{BASE}?topic=charge-card").json
    assert [(t["element_id"], t["retries"], t["error_message"]) for t in listed] == [
        ("Activity_charge", 0, "card service down")
    ]


def test_locks_conflicts_and_unknown_ids(as_, worker, clock):
    deploy(as_, "camunda7_payment.bpmn")
    start(as_, "payment_c7", amount=1)
    [task] = fetch(worker, "charge-card")
    assert fetch(worker, "charge-card", worker_id="erp-2") == []
    assert [t["worker_id"] for t in as_("pmo").get(f"{BASE}?locked=true").json] == ["erp-1"]
    assert as_("pmo").get(f"{BASE}?locked=false").json == []
    other = worker.post(f"{BASE}/{task['id']}/complete", json={"worker_id": "erp-2"})
    assert other.status_code == 409 and other.json["error"]["code"] == "conflict"
    extended = worker.post(f"{BASE}/{task['id']}/extend-lock", json={"worker_id": "erp-1", "new_duration_ms": 90_000})
    assert extended.status_code == 200
    clock.advance(timedelta(seconds=60))
    assert fetch(worker, "charge-card", worker_id="erp-2") == []  # extended past 60 s
    first = worker.post(f"{BASE}/{task['id']}/complete", json={"worker_id": "erp-1"})
    second = worker.post(f"{BASE}/{task['id']}/complete", json={"worker_id": "erp-1"})
    assert (first.status_code, second.status_code) == (200, 409)
    missing = worker.post(f"{BASE}/no-such-task/complete", json={"worker_id": "erp-1"})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/fetch-and-lock",
            {"worker_id": "w", "max_tasks": 1000, "topics": [{"name": "a", "lock_duration_ms": 1}]},
            "max_tasks",
        ),
        ("/fetch-and-lock", {"worker_id": "w", "max_tasks": 1, "topics": []}, "topics"),
        ("/fetch-and-lock", {"worker_id": "w", "max_tasks": 1}, "topics"),
        (
            "/fetch-and-lock",
            {"worker_id": "", "max_tasks": 1, "topics": [{"name": "a", "lock_duration_ms": 1}]},
            "worker_id",
        ),
        (
            "/fetch-and-lock",
            {"worker_id": "w", "max_tasks": 1.5, "topics": [{"name": "a", "lock_duration_ms": 1}]},
            "max_tasks",
        ),
        (
            "/fetch-and-lock",
            {"worker_id": "w", "max_tasks": 1, "topics": [{"name": "a", "lock_duration_ms": 10**12}]},
            "topics.0.lock_duration_ms",
        ),
        (
            "/fetch-and-lock",
            {"worker_id": "w", "max_tasks": 1, "topics": [{"name": f"t{i}", "lock_duration_ms": 1} for i in range(51)]},
            "topics",
        ),
        (
            "/fetch-and-lock",
            {"worker_id": "w", "max_tasks": 1, "topics": [{"name": "a", "lock_duration_ms": 1}], "surprise": 1},
            "surprise",
        ),
        ("/x/failure", {"worker_id": "w", "message": "m", "retries": -1}, "retries"),
        ("/x/failure", {"worker_id": "w", "retries": 1}, "message"),
        ("/x/bpmn-error", {"worker_id": "w"}, "error_code"),
        ("/x/extend-lock", {"worker_id": "w", "new_duration_ms": 0}, "new_duration_ms"),
        ("/x/complete", {"worker_id": "w", "variables": {"bad  name": 1}}, "variables.bad  name"),
        ("/x/complete", {"worker_id": "w", "variables": [1]}, "variables"),
    ],
)
def test_bad_requests_are_422_naming_the_field(worker, url, body, field):
    response = worker.post(BASE + url, json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_input"
    assert field in response.json["error"]["details"]["fields"], response.json


def test_a_body_that_is_not_json_is_a_client_error(worker):
    response = worker.post(f"{BASE}/fetch-and-lock", data="not json", content_type="application/json")
    assert 400 <= response.status_code < 500 and "error" in response.json


def test_the_worker_role_does_only_external_tasks(as_, worker):
    deploy(as_, "camunda7_payment.bpmn")
    instance = start(as_, "payment_c7", amount=1)
    for url in (
        "/api/v1/process-instances",
        f"/api/v1/process-instances/{instance['id']}",
        "/api/v1/tasks",
        "/api/v1/process-definitions",
        "/api/v1/decisions",
        BASE,
        "/api/v1/audit/events",
    ):
        assert worker.get(url).status_code == 403, url
    assert worker.post("/api/v1/process-instances", json={"process": "payment_c7"}).status_code == 403
    assert fetch(worker, "charge-card")
    for caller in ("alice", "bot", "designer", "audrey"):
        refused = as_(caller).post(
            f"{BASE}/fetch-and-lock",
            json={"worker_id": "w", "max_tasks": 1, "topics": [{"name": "charge-card", "lock_duration_ms": 1}]},
        )
        assert refused.status_code == 403, caller
    assert as_("audrey").get(BASE).status_code == 200
