"""End to end: a real `pmoflow serve` (with its timer worker) escalates an overdue approval."""

from __future__ import annotations

import time

from tests.e2e.test_server import clients, server  # noqa: F401 - fixtures

DEADLINE_SECONDS = 60


def test_project_intake_with_a_short_sla_escalates_to_the_pmo_director(server, clients):  # noqa: F811
    bot, auditor = clients["intake-bot"], clients["audrey"]
    started = bot.post(
        "/api/v1/process-instances",
        json={
            "process": "project-intake",
            "business_key": "PRJ-SLA",
            "variables": {"title": "Quick one", "budget": 5000, "department": "IT", "approval_sla": "PT3S"},
        },
    )
    assert started.status_code == 201, started.text
    instance = started.json()
    [first] = instance["open_tasks"]
    assert (
        first["element_id"] == "it_manager_approval"
        and first["due_at"]
        and first["sla_state"] in ("on_track", "at_risk")
    )
    escalated = None
    give_up = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < give_up:
        tasks = bot.get(f"/api/v1/process-instances/{instance['id']}").json()["open_tasks"]
        if tasks and tasks[0]["element_id"] == "escalated_it_manager_approval":
            escalated = tasks[0]
            break
        time.sleep(0.5)
    assert escalated is not None, "the approval was not escalated within a minute"
    assert escalated["role"] == "PMO Director" and escalated["sla_state"] == "none"
    trail = auditor.get(f"/api/v1/process-instances/{instance['id']}/audit").json()["events"]
    breaches = [e for e in trail if e["type"] == "sla_breached"]
    assert len(breaches) == 1
    assert breaches[0]["element_id"] == "it_manager_approval" and breaches[0]["actor"] == "timer"
    assert breaches[0]["data"]["kind"] == "escalation"
    cancelled = [e for e in trail if e["type"] == "task_cancelled"]
    assert [e["element_id"] for e in cancelled] == ["it_manager_approval"]
    done = clients["erin"].post(
        f"/api/v1/tasks/{escalated['id']}/complete", json={"data": {"decision": "approve", "comment": "late but fine"}}
    )
    assert done.status_code == 200, done.text
