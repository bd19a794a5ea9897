"""BPMN constructs as other modelers write them (tests/models/constructs), deployed and run to the end
through the API on SQLite and PostgreSQL: the path taken (element ids in order, from the audit trail) and
the final variables."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.timers import fire_due

MODELS = Path(__file__).resolve().parent.parent / "models" / "constructs"


def deploy(as_, *names: str) -> None:  # type: ignore[no-untyped-def]
    files = {"files": [(io.BytesIO((MODELS / n).read_bytes()), n) for n in names]}
    response = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def run(as_, process: str, variables: dict[str, Any] | None = None,  # type: ignore[no-untyped-def]
        answers: dict[str, list[dict[str, Any]]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Start `process` and complete its user tasks (as alice) with `answers[element_id]`, one per visit, until
    none is open; the instance and the element ids completed, in order."""
    created = as_("bot").post("/api/v1/process-instances", json={"process": process, "variables": variables or {}})
    assert created.status_code == 201, created.json
    return run_open(as_, created.json["id"], answers)


def run_open(as_, instance_id: str,  # type: ignore[no-untyped-def]
             answers: dict[str, list[dict[str, Any]]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Complete the open user tasks of a running instance as `run` does."""
    answers = {k: list(v) for k, v in (answers or {}).items()}
    instance = as_("bot").get(f"/api/v1/process-instances/{instance_id}").json
    for _ in range(50):
        if not instance["open_tasks"]:
            break
        task = instance["open_tasks"][0]
        data = answers.get(task["element_id"], [{}]).pop(0) if answers.get(task["element_id"]) else {}
        done = as_("alice").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
        assert done.status_code == 200, done.json
        instance = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json
    return instance, path_of(as_, instance["id"])


def path_of(as_, instance_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    events = as_("audrey").get(f"/api/v1/process-instances/{instance_id}/audit").json["events"]
    return [e["element_id"] for e in events if e["type"] in ("element_completed",) and e["element_id"]]


def test_nested_embedded_sub_processes_run_to_the_end(as_):
    deploy(as_, "embedded_subprocess.bpmn")
    instance, path = run(as_, "embedded_subprocess", {"amount": 20})
    assert instance["status"] == "completed", instance
    assert path == ["StartEvent_1", "Event_OuterStart", "Activity_Review", "Event_InnerStart", "Activity_Compute",
                    "Event_InnerEnd", "Activity_Inner", "Event_OuterEnd", "Activity_Outer", "Activity_After",
                    "EndEvent_1"]
    assert instance["variables"]["total"] == 40 and instance["variables"]["after"] == 41


def test_a_timer_event_sub_process_fires_while_the_process_waits(as_, engine_ctx, clock):
    deploy(as_, "event_subprocess_timer.bpmn")
    created = as_("bot").post("/api/v1/process-instances", json={"process": "event_subprocess_timer"}).json
    clock.advance(timedelta(minutes=61))
    assert fire_due(engine_ctx) == 1
    instance, path = run_open(as_, created["id"])
    assert instance["status"] == "completed", instance
    assert path == ["StartEvent_1", "Event_TimerStart", "Activity_Note", "Event_RemindEnd", "Activity_Remind",
                    "Activity_Work", "EndEvent_1"]
    assert instance["variables"]["reminded"] is True


def test_a_transaction_runs_like_a_sub_process(as_):
    deploy(as_, "transaction.bpmn")
    instance, path = run(as_, "transaction")
    assert instance["status"] == "completed", instance
    assert path == ["sid-START", "sid-TXSTART", "sid-RESERVE", "sid-TXEND", "sid-TX", "sid-END"]
    assert instance["variables"]["reserved"] is True


@pytest.mark.parametrize("name", sorted(p.name for p in MODELS.glob("*.bpmn")))
def test_every_construct_model_deploys(as_, name):
    deploy(as_, name)
