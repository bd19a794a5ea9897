"""BPMN constructs as other modelers write them (tests/models/constructs), deployed and run to the end
through the API on SQLite and PostgreSQL: the path taken (element ids in order, from the audit trail) and
the final variables."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.runtime.timers import fire_due
from tests.api.journeys import path_of

MODELS = Path(__file__).resolve().parent.parent / "models" / "constructs"


def deploy(as_, *names: str) -> None:  # type: ignore[no-untyped-def]
    files = {"files": [(io.BytesIO((MODELS / n).read_bytes()), n) for n in names]}
    response = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def run(
    as_,
    process: str,
    variables: dict[str, Any] | None = None,  # type: ignore[no-untyped-def]
    answers: dict[str, list[dict[str, Any]]] | None = None,
    stop_after: int = 50,
) -> tuple[dict[str, Any], list[str]]:
    """Start `process` and complete its user tasks (as alice) with `answers[element_id]`, one per visit, until
    none is open; the instance and the element ids completed, in order."""
    created = as_("bot").post("/api/v1/process-instances", json={"process": process, "variables": variables or {}})
    assert created.status_code == 201, created.json
    return run_open(as_, created.json["id"], answers, stop_after)


def run_open(
    as_,
    instance_id: str,  # type: ignore[no-untyped-def]
    answers: dict[str, list[dict[str, Any]]] | None = None,
    stop_after: int = 50,
) -> tuple[dict[str, Any], list[str]]:
    """Complete the open user tasks of a running instance as `run` does (at most `stop_after` steps)."""
    answers = {k: list(v) for k, v in (answers or {}).items()}
    instance = as_("bot").get(f"/api/v1/process-instances/{instance_id}").json
    for _ in range(stop_after):
        if not instance["open_tasks"] or instance["status"] != "running":
            break
        task = instance["open_tasks"][0]
        data = answers.get(task["element_id"], [{}]).pop(0) if answers.get(task["element_id"]) else {}
        done = as_("alice").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
        assert done.status_code == 200, done.json
        instance = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json
    return instance, path_of(as_, instance["id"])


def test_nested_embedded_sub_processes_run_to_the_end(as_):
    deploy(as_, "embedded_subprocess.bpmn")
    instance, path = run(as_, "embedded_subprocess", {"amount": 20})
    assert instance["status"] == "completed", instance
    assert path == [
        "StartEvent_1",
        "Event_OuterStart",
        "Activity_Review",
        "Event_InnerStart",
        "Activity_Compute",
        "Event_InnerEnd",
        "Activity_Inner",
        "Event_OuterEnd",
        "Activity_Outer",
        "Activity_After",
        "EndEvent_1",
    ]
    assert instance["variables"]["total"] == 40 and instance["variables"]["after"] == 41


def test_a_timer_event_sub_process_fires_while_the_process_waits(as_, engine_ctx, clock):
    deploy(as_, "event_subprocess_timer.bpmn")
    created = as_("bot").post("/api/v1/process-instances", json={"process": "event_subprocess_timer"}).json
    clock.advance(timedelta(minutes=61))
    assert fire_due(engine_ctx) == 1
    instance, path = run_open(as_, created["id"])
    assert instance["status"] == "completed", instance
    assert path == [
        "StartEvent_1",
        "Event_TimerStart",
        "Activity_Note",
        "Event_RemindEnd",
        "Activity_Remind",
        "Activity_Work",
        "EndEvent_1",
    ]
    assert instance["variables"]["reminded"] is True


def test_a_transaction_runs_like_a_sub_process(as_):
    deploy(as_, "transaction.bpmn")
    instance, path = run(as_, "transaction")
    assert instance["status"] == "completed", instance
    assert path == ["sid-START", "sid-TXSTART", "sid-RESERVE", "sid-TXEND", "sid-TX", "sid-END"]
    assert instance["variables"]["reserved"] is True


@pytest.mark.parametrize("name", sorted(p.name for p in MODELS.glob("*.bpmn")))
def test_every_construct_model_deploys(as_, name):
    deploy(as_, name, *sorted(p.name for p in MODELS.glob("*.dmn")))


@pytest.mark.parametrize(("amount", "route"), [(5000, "Activity_Board"), (10, "Activity_Fast")])
def test_exclusive_gateway_takes_the_condition_or_the_default(as_, amount, route):
    deploy(as_, "gateways.bpmn")
    instance, path = run(as_, "gateways", {"amount": amount, "reviews": []})
    assert instance["status"] == "completed", instance
    assert path[:3] == ["StartEvent_1", "Gateway_Size", route]
    assert instance["variables"]["route"] == ("board" if amount > 1000 else "fast")


def test_inclusive_split_activates_the_true_paths_and_the_join_waits_only_for_them(as_):
    deploy(as_, "gateways.bpmn")
    instance, _ = run(as_, "gateways", {"amount": 1, "reviews": ["legal", "finance"]}, stop_after=0)
    assert instance["status"] == "running"
    assert sorted(t["element_id"] for t in instance["open_tasks"]) == ["Activity_Finance", "Activity_Legal"]
    done = as_("alice").post(f"/api/v1/tasks/{instance['open_tasks'][0]['id']}/complete", json={"data": {}})
    assert done.json["instance_status"] == "running"  # the join waits for the other activated path
    instance, path = run_open(as_, instance["id"])
    assert instance["status"] == "completed", instance
    assert path.count("Gateway_Joined") == 1 and "Activity_Security" not in path
    assert path[path.index("Gateway_Joined") :] in (
        ["Gateway_Joined", "Gateway_Fork", "Activity_Notify", "Activity_Archive", "Gateway_Sync", "EndEvent_1"],
        ["Gateway_Joined", "Gateway_Fork", "Activity_Archive", "Activity_Notify", "Gateway_Sync", "EndEvent_1"],
    )
    assert instance["variables"]["notified"] is True and instance["variables"]["archived"] is True


def test_inclusive_split_with_no_true_condition_takes_the_default_flow(as_):
    deploy(as_, "gateways.bpmn")
    instance, path = run(as_, "gateways", {"amount": 1, "reviews": []})
    assert instance["status"] == "completed", instance
    assert path[3:6] == ["Gateway_Merge", "Gateway_Reviews", "Gateway_Joined"]


@pytest.mark.parametrize(
    ("variables", "taken"),
    [
        ({"urgent": True, "amount": 20000}, ["sid-PAGE", "sid-CFO"]),
        ({"urgent": False, "amount": 20000}, ["sid-CFO"]),
        ({"urgent": False, "amount": 5}, ["sid-QUEUE"]),
    ],
)
def test_conditional_and_default_flows_leaving_a_task_and_implicit_joins(as_, variables, taken):
    deploy(as_, "implicit_split_join.bpmn")
    instance, path = run(as_, "implicit_split_join", {**variables, "logged": 0})
    assert instance["status"] == "completed", instance
    assert path[:2] == ["sid-START", "sid-CLASSIFY"]
    assert sorted(e for e in path if e in ("sid-PAGE", "sid-CFO", "sid-QUEUE")) == sorted(taken)
    # an implicit join passes every token: the task after it runs once per arriving path, and so on
    assert path.count("sid-LOG") == len(taken) and path.count("sid-FANOUT") == len(taken)
    assert path.count("sid-END-A") == len(taken) and path.count("sid-END-B") == len(taken)
    assert not any("ImplicitSplit" in e for e in path)


def test_event_based_gateway_takes_the_message(as_):
    deploy(as_, "event_based_gateway.bpmn")
    created = (
        as_("bot")
        .post("/api/v1/process-instances", json={"process": "event_based_gateway", "business_key": "EBG-1"})
        .json
    )
    sent = as_("bot").post(
        "/api/v1/messages", json={"message": "answer", "business_key": "EBG-1", "variables": {"answer": "yes"}}
    )
    assert sent.status_code == 200, sent.json
    instance, path = run_open(as_, created["id"])
    assert instance["status"] == "completed" and instance["variables"]["answer"] == "yes"
    assert path == ["StartEvent_1", "Gateway_Wait", "Event_Answer", "Event_Answered"]


def test_event_based_gateway_takes_the_timer(as_, engine_ctx, clock):
    deploy(as_, "event_based_gateway.bpmn")
    created = as_("bot").post("/api/v1/process-instances", json={"process": "event_based_gateway"}).json
    clock.advance(timedelta(days=2, minutes=1))
    assert fire_due(engine_ctx) == 1
    instance, path = run_open(as_, created["id"])
    assert instance["status"] == "completed"
    assert path == ["StartEvent_1", "Gateway_Wait", "Event_Deadline", "Event_TimedOut"]


def test_user_manual_business_rule_script_send_receive_and_abstract_tasks_run(as_):
    deploy(as_, "activities.bpmn", "order_tier.dmn")
    created = (
        as_("bot")
        .post(
            "/api/v1/process-instances",
            json={"process": "activities", "business_key": "ORD-1", "variables": {"price": 3}},
        )
        .json
    )
    instance, _ = run_open(as_, created["id"], {"Activity_Fill": [{"quantity": 12}]})
    assert instance["status"] == "running"  # the receive task waits for its message
    sent = as_("bot").post(
        "/api/v1/messages", json={"message": "confirmation", "business_key": "ORD-1", "variables": {"confirmed": True}}
    )
    assert sent.status_code == 200, sent.json
    instance, path = run_open(as_, created["id"])
    assert instance["status"] == "completed", instance
    assert path == [
        "StartEvent_1",
        "Activity_Fill",
        "Activity_Call",
        "Activity_Tier",
        "Activity_Total",
        "Activity_Send",
        "Activity_Receive",
        "Activity_File",
        "EndEvent_1",
    ]
    variables = instance["variables"]
    assert (variables["tier"], variables["total"], variables["label"], variables["confirmed"]) == (
        "bulk",
        36,
        "bulk-36",
        True,
    )


def test_camunda7_parallel_user_task_per_reviewer_and_sequential_script_per_item(as_):
    deploy(as_, "multi_instance_camunda7.bpmn")
    instance, _ = run(
        as_,
        "multi_instance_camunda7",
        {"reviewers": ["ann", "ben", "cy"], "items": ["a", "b"], "checked": []},
        stop_after=0,
    )
    assert [t["element_id"] for t in instance["open_tasks"]] == ["Activity_Review"] * 3
    instance, path = run_open(as_, instance["id"])
    assert instance["status"] == "completed", instance
    assert path == ["StartEvent_1"] + ["Activity_Review"] * 4 + ["Activity_Check"] * 3 + ["EndEvent_1"]
    assert instance["variables"]["checked"] == ["A", "B"]


def test_zeebe_multi_instance_with_output_collection(as_):
    deploy(as_, "multi_instance_zeebe.bpmn")
    instance, path = run(as_, "multi_instance_zeebe", {"lines": [1, 2, 3]})
    assert instance["status"] == "completed", instance
    assert path == ["StartEvent_1"] + ["Activity_Price"] * 4 + ["EndEvent_1"]
    assert instance["variables"]["prices"] == [10, 20, 30]


def test_cardinality_completion_condition_and_standard_loop(as_):
    deploy(as_, "loops.bpmn")
    instance, path = run(as_, "loops", {"copies": 3, "bids": [10, 45, 20], "attempts": 0})
    assert instance["status"] == "completed", instance
    # 3 copies + the whole; 2 bids (the second scores 90 >= 80) + the whole; 3 attempts + the whole
    assert path == (["sid-START"] + ["sid-THREE"] * 4 + ["sid-BIDS"] * 3 + ["sid-RETRY"] * 4 + ["sid-END"])
    assert instance["variables"]["scores"] == [20, 90] and instance["variables"]["attempts"] == 3


def test_a_missing_input_collection_is_an_incident_naming_the_task_and_a_retry_runs_it(as_):
    deploy(as_, "multi_instance_zeebe.bpmn")
    created = as_("bot").post("/api/v1/process-instances", json={"process": "multi_instance_zeebe"})
    assert created.status_code == 201, created.json
    instance = created.json
    assert instance["status"] == "error"
    assert instance["error"]["element_id"] == "Activity_Price" and "'lines'" in instance["error"]["message"]
    retried = as_("pmo").post(f"/api/v1/process-instances/{instance['id']}/retry", json={"variables": {"lines": [4]}})
    assert retried.status_code == 200, retried.json
    assert retried.json["status"] == "completed" and retried.json["variables"]["prices"] == [40]


def test_bare_iso_timers_inside_a_sub_process_fire_in_turn(as_, engine_ctx, clock):
    deploy(as_, "timers_in_sub_process.bpmn")
    created = as_("bot").post("/api/v1/process-instances", json={"process": "timers_in_sub_process"}).json
    assert created["status"] == "running", created
    clock.advance(timedelta(days=6))
    assert fire_due(engine_ctx) == 0
    clock.advance(timedelta(days=1, minutes=1))
    assert fire_due(engine_ctx) == 1  # P7D
    assert as_("bot").get(f"/api/v1/process-instances/{created['id']}").json["status"] == "running"
    clock.advance(timedelta(days=365))
    assert fire_due(engine_ctx) == 1  # 2027-01-01T00:00:00Z
    instance, path = run_open(as_, created["id"])
    assert instance["status"] == "completed"
    assert path == [
        "StartEvent_1",
        "Event_SubStart",
        "Event_Week",
        "Event_Date",
        "Event_SubEnd",
        "Activity_Wait",
        "EndEvent_1",
    ]


def test_a_cardinality_that_cannot_be_evaluated_is_an_incident_and_a_retry_runs_it(as_):
    deploy(as_, "loops.bpmn")
    created = as_("bot").post(
        "/api/v1/process-instances", json={"process": "loops", "variables": {"bids": [50], "attempts": 5}}
    )
    assert created.status_code == 201, created.json
    instance = created.json
    assert instance["status"] == "error" and instance["error"]["element_id"] == "sid-THREE"
    assert "copies" in instance["error"]["message"]
    retried = as_("pmo").post(f"/api/v1/process-instances/{instance['id']}/retry", json={"variables": {"copies": 2}})
    assert retried.status_code == 200, retried.json
    assert retried.json["status"] == "completed"
    assert path_of(as_, instance["id"]) == ["sid-START"] + ["sid-THREE"] * 3 + ["sid-BIDS"] * 2 + ["sid-RETRY"] * 2 + [
        "sid-END"
    ]


def test_data_objects_stores_and_io_specifications_are_documentation(as_):
    deploy(as_, "data_as_documentation.bpmn")
    instance, path = run(as_, "data_as_documentation", {"lines": [3, 4], "total": 0})
    assert instance["status"] == "completed", instance
    assert path == ["sid-START", "sid-READ"] + ["sid-LINE"] * 3 + ["sid-END"]
    assert instance["variables"]["total"] == 7 and instance["variables"]["read"] is True
    assert "line" not in instance["variables"]  # the element variable is each instance's own
