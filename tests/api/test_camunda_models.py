"""A Camunda 7 and a Camunda 8 model, as Camunda Modeler 5 writes them, run unchanged through the API.

tests/models/camunda holds the invoice approval twice: once for Camunda 7 (`camunda:` attributes,
`${}` JUEL conditions, `camunda:inputOutput`, an external task by `camunda:topic`, a decision by
`camunda:decisionRef` with `mapDecisionResult`) and once for Camunda 8 (`zeebe:` extension
elements, `=` FEEL conditions and mappings, `zeebe:taskDefinition`, `zeebe:calledDecision`,
`zeebe:assignmentDefinition`, `zeebe:taskSchedule`), with the DMN table and the two forms the
modeler writes beside them. Lanes: none. Each is deployed, started, approved or rejected by a
member of `accounting`, archived by an external worker, and checked step by step.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from engine.runtime.timers import fire_due
from tests.api.journeys import path_of
from tests.factories import make_token

MODELS = Path(__file__).resolve().parent.parent / "models" / "camunda"
FILES = ("invoice-approver.dmn", "invoice-start.form", "invoice-approve.form")
PROCESSES = {"invoice_c7": "invoice-c7.bpmn", "invoice_c8": "invoice-c8.bpmn"}


@pytest.fixture
def people(as_, engine_ctx):  # type: ignore[no-untyped-def]
    """Callers of this test: an accountant (group `accounting`, no lane anywhere) and an external worker."""
    from tests.api.conftest import Caller

    client = as_("bot").client
    accountant = Caller(client, make_token(engine_ctx, "ann", ["accounting"], ["approver"]))
    worker = Caller(client, make_token(engine_ctx, "archiver", [], ["external-worker"]))
    return accountant, worker


def deploy(as_, process: str) -> None:  # type: ignore[no-untyped-def]
    names = (PROCESSES[process], *FILES)
    files = {"files": [(io.BytesIO((MODELS / n).read_bytes()), n) for n in names]}
    response = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    [definition] = [d for d in response.json["definitions"] if d["key"] == process]
    assert definition["new"]


def start(as_, process: str, amount: int) -> dict:  # type: ignore[no-untyped-def]
    created = as_("bot").post(
        "/api/v1/process-instances",
        json={"process": process, "variables": {"invoiceNumber": "INV-7", "amount": amount}},
    )
    assert created.status_code == 201, created.json
    assert created.json["status"] == "running", created.json
    return created.json


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_an_approved_invoice_is_classified_approved_and_archived_by_a_worker(as_, people, process, clock):
    accountant, worker = people
    deploy(as_, process)
    instance = start(as_, process, 250)
    assert instance["variables"]["approverGroup"] == "accounting"  # the decision's single entry

    # the lane-less user task is offered to `accounting` (candidate groups), with its form and due date
    [task] = accountant.get("/api/v1/tasks").json["items"]
    assert task["element_id"] == "Activity_approve" and task["instance_id"] == instance["id"]
    assert as_("alice").get("/api/v1/tasks").json["items"] == []  # not offered to other groups
    assert (
        as_("alice").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"approved": True}}).status_code == 403
    )
    due = task.get("due_at")
    assert due is not None
    if process == "invoice_c7":  # camunda:dueDate="P3D"
        assert due.startswith((clock.now() + timedelta(days=3)).date().isoformat())
    else:  # zeebe:taskSchedule dueDate
        assert due.startswith("2026-12-31T17:00:00")
    done = accountant.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"approved": True}})
    assert done.status_code == 200, done.json

    # the service task waits for a worker of its topic, with its input mapping applied
    fetched = worker.post(
        "/api/v1/external-tasks/fetch-and-lock",
        json={
            "worker_id": "archiver-1",
            "max_tasks": 5,
            "topics": [{"name": "archive-invoice", "lock_duration_ms": 60_000}],
        },
    )
    assert fetched.status_code == 200, fetched.json
    [job] = fetched.json if isinstance(fetched.json, list) else fetched.json["items"]
    assert job["element_id"] == "Activity_archive" and job["variables"]["archiveKey"] == "INV-7"
    # the worker's token may do nothing else
    assert worker.get(f"/api/v1/process-instances/{instance['id']}").status_code == 403
    finished = worker.post(
        f"/api/v1/external-tasks/{job['id']}/complete",
        json={"worker_id": "archiver-1", "variables": {"archiveTimestamp": "2026-12-05T10:00:00Z"}},
    )
    assert finished.status_code in (200, 204), finished.json

    final = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json
    assert final["status"] == "completed", final
    assert final["variables"]["archivedAt"] == "2026-12-05T10:00:00Z"  # the output mapping
    assert path_of(as_, instance["id"]) == [
        "StartEvent_1",
        "Activity_classify",
        "Activity_approve",
        "Gateway_approved",
        "Activity_archive",
        "Event_archived",
    ]


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_rejected_invoice_ends_rejected_after_a_reminder(as_, people, process, clock, engine_ctx):
    accountant, _ = people
    deploy(as_, process)
    instance = start(as_, process, 90)
    clock.advance(timedelta(hours=4, minutes=1))  # the bare PT4H reminder fires
    assert fire_due(engine_ctx) == 1
    [task] = accountant.get("/api/v1/tasks").json["items"]  # non-interrupting: still open
    done = accountant.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"approved": False}})
    assert done.status_code == 200, done.json
    final = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json
    assert final["status"] == "completed", final
    path = path_of(as_, instance["id"])
    assert path[:2] == ["StartEvent_1", "Activity_classify"]
    assert path.index("Event_remind") < path.index("Activity_approve")
    assert path[-2:] == ["Gateway_approved", "Event_rejected"]
    assert "Event_reminded" in path and "Activity_archive" not in path
