"""workflows/examples/vendor-review.bpmn, as shipped: an embedded sub-process with a parallel multi-instance
review, a non-interrupting reminder and an interrupting deadline on the sub-process, no lanes, and an external
task; run to each of its ends through the API on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from engine.runtime.timers import fire_due
from tests.api.journeys import path_of
from tests.factories import make_token

EXAMPLE = Path(__file__).resolve().parents[2] / "workflows" / "examples" / "vendor-review.bpmn"
REVIEWERS = ["carol", "chen", "chris"]


@pytest.fixture
def started(as_):  # type: ignore[no-untyped-def]
    files = {"files": [(io.BytesIO(EXAMPLE.read_bytes()), EXAMPLE.name)]}
    deployed = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert deployed.status_code == 201, deployed.json
    created = as_("bot").post(
        "/api/v1/process-instances",
        json={"process": "vendor-review", "variables": {"vendor": "Acme Cloud", "reviewers": REVIEWERS}},
    )
    assert created.status_code == 201, created.json
    return created.json


def review(as_, verdicts: list[str]) -> None:  # type: ignore[no-untyped-def]
    tasks = as_("carol").get("/api/v1/tasks").json["items"]  # offered to Security (no lane)
    assert sorted(t["element_id"] for t in tasks) == ["security_review"] * len(REVIEWERS)
    assert as_("bob").get("/api/v1/tasks").json["items"] == []
    for task, verdict in zip(tasks, verdicts, strict=True):
        done = as_("carol").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"verdict": verdict}})
        assert done.status_code == 200, done.json


def test_approved_by_every_reviewer_after_a_reminder_and_registered_by_a_system(as_, started, engine_ctx, clock):
    clock.advance(timedelta(days=2, minutes=1))
    assert fire_due(engine_ctx) == 1  # the reminder, not the deadline
    review(as_, ["approve"] * len(REVIEWERS))
    worker = make_token(engine_ctx, "registry", [], ["external-worker"])
    headers = {"Authorization": f"Bearer {worker}"}
    client = as_("bot").client
    fetched = client.post(
        "/api/v1/external-tasks/fetch-and-lock",
        headers=headers,
        json={
            "worker_id": "registry-1",
            "max_tasks": 1,
            "topics": [{"name": "register-vendor", "lock_duration_ms": 30_000}],
        },
    )
    assert fetched.status_code == 200, fetched.json
    [job] = fetched.json
    assert job["variables"]["vendor"] == "Acme Cloud"
    assert client.post(
        f"/api/v1/external-tasks/{job['id']}/complete",
        headers=headers,
        json={"worker_id": "registry-1", "variables": {"vendor_id": "V-42"}},
    ).status_code in (200, 204)
    final = as_("bot").get(f"/api/v1/process-instances/{started['id']}").json
    assert final["status"] == "completed", final
    assert final["variables"]["verdicts"] == ["approve"] * len(REVIEWERS)
    assert final["variables"]["approved"] is True and final["variables"]["reminded"] is True
    path = path_of(as_, started["id"])
    assert path[0] == "requested" and path[-3:] == ["decide", "register", "registered"]
    assert path.count("security_review") == len(REVIEWERS) + 1  # each review, then the activity
    assert path.index("remind") < path.index("reminded") < path.index("review_round") < path.index("tally")


def test_one_rejection_rejects_the_vendor(as_, started):
    review(as_, ["approve", "reject", "approve"])
    final = as_("bot").get(f"/api/v1/process-instances/{started['id']}").json
    assert final["status"] == "completed" and final["variables"]["approved"] is False
    assert path_of(as_, started["id"])[-3:] == ["tally", "decide", "rejected"]


def test_the_deadline_ends_the_review_round(as_, started, engine_ctx, clock):
    clock.advance(timedelta(days=2, minutes=1))
    fire_due(engine_ctx)
    clock.advance(timedelta(days=8))
    assert fire_due(engine_ctx) == 1
    final = as_("bot").get(f"/api/v1/process-instances/{started['id']}").json
    assert final["status"] == "completed", final
    assert final["open_tasks"] == []
    assert path_of(as_, started["id"])[-2:] == ["deadline", "expired"]
    assert as_("carol").get("/api/v1/tasks").json["items"] == []  # the open reviews were cancelled
