"""Snapshots of every Slack app message: the task's direct message (with and without decision buttons),
the message after a decision, the reject dialog and `/pmoflow`'s list. A change of wording or shape shows
as a diff here; rewrite the files with PMOFLOW_UPDATE_SNAPSHOTS=1 after checking it in Slack's Block Kit
Builder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.core.config import Settings
from engine.notify import rendering
from engine.slack import blocks

SNAPSHOTS = Path(__file__).parent / "snapshots"
SETTINGS = Settings(base_url="https://pmo.example.com")
AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
CONTEXT = {
    "kind": "task_assigned",
    "event_type": "task_created",
    "task_id": "0b7e6f7e-1111-4222-8333-444455556666",
    "task_name": "IT Manager approval",
    "instance_id": "9c1d2e3f-aaaa-4bbb-8ccc-ddddeeeeffff",
    "request": "New <CRM> & more (PRJ-7)",
    "process": "Project intake",
    "business_key": "PRJ-7",
    "actor": None,
    "reason": None,
    "outcome": None,
    "status": "running",
    "whom": "your group IT Manager",
    "status_label": "In progress",
    "verdict": "",
    "due_at": "2026-01-07T17:00:00+00:00",
    "occurred_at": "2026-01-05T09:00:00+00:00",
    "link": "/tasks/0b7e6f7e-1111-4222-8333-444455556666",
}
TASK = CONTEXT["task_id"]
URL = f"https://pmo.example.com/tasks/{TASK}"


def check(name: str, value: dict) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("PMOFLOW_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with PMOFLOW_UPDATE_SNAPSHOTS=1 and check it"
    assert text == path.read_text(), name


def webhook_body(kind: str = "task_assigned") -> dict:
    return rendering.slack({**CONTEXT, "kind": kind}, SETTINGS)


@pytest.mark.parametrize("kind", ["task_assigned", "task_reminder", "task_escalated"])
def test_a_decision_task_message_has_approve_reject_and_open(kind):
    check(f"dm_decision_{kind}", blocks.task_message(webhook_body(kind), TASK, URL, decision=True))


def test_a_task_that_needs_more_has_open_only():
    check("dm_open_only", blocks.task_message(webhook_body(), TASK, URL, decision=False))


def test_a_message_about_no_task_keeps_its_link():
    body = rendering.slack({**CONTEXT, "kind": "instance_finished", "outcome": "Approved"}, SETTINGS)
    check("dm_instance_finished", blocks.task_message(body, None, URL, decision=False))


def test_the_message_after_an_approval():
    decided = blocks.Decided(
        "IT Manager approval", "Project intake", "PRJ-7", "alice", "approve", None, AT, URL, "U0ALICE"
    )
    check("decided_approve", blocks.decided_message(decided))


def test_the_message_after_a_rejection_quotes_the_comment_escaped():
    comment = "Budget too high.\nAsk <!channel> & Finance first."
    decided = blocks.Decided(
        "IT Manager approval", "Project intake", None, "frank", "reject", comment, AT, URL, "U0FRANK"
    )
    message = blocks.decided_message(decided)
    check("decided_reject", message)
    assert "<!channel>" not in json.dumps(message)


def test_the_message_of_a_candidate_after_someone_else_decided():
    """Decided elsewhere (the web form, the API, an email link, another's click): no mention, the decider by name."""
    decided = blocks.Decided("IT Manager approval", "Project intake", "PRJ-7", "frank", "approve", None, AT, URL)
    check("decided_elsewhere", blocks.decided_message(decided))
    done = blocks.Decided("Fill in the <budget>", "Project intake", None, "erin", "complete", None, AT, URL)
    check("decided_elsewhere_form", blocks.decided_message(done))


def test_the_message_of_a_cancelled_task():
    withdrawn = blocks.Withdrawn(
        "IT Manager approval", "Project intake", "PRJ-7", "cancelled", AT, URL, reason="Project <stopped> & gone"
    )
    message = blocks.withdrawn_message(withdrawn)
    check("withdrawn_cancelled", message)
    assert "<stopped>" not in json.dumps(message)


def test_the_message_of_a_task_handed_to_someone_else():
    moved = blocks.Withdrawn("IT Manager approval", "Project intake", "PRJ-7", "moved", None, URL, now_with="alice")
    check("withdrawn_moved", blocks.withdrawn_message(moved))
    closed = blocks.Withdrawn("IT Manager approval", "Project intake", "PRJ-7", "closed", AT, URL)
    check("withdrawn_closed", blocks.withdrawn_message(closed))
    nobody = blocks.Withdrawn("IT Manager approval", "Project intake", None, "moved", None, URL)
    assert "it is now with other people" in blocks.withdrawn_message(nobody)["blocks"][1]["text"]["text"]


def test_the_reject_dialog():
    dialog = blocks.reject_dialog(TASK, "IT Manager approval", "Comment", "Required when you reject.", "D0ALICE", "1.2")
    check("reject_dialog", dialog)


def test_the_reject_dialog_of_a_form_without_a_comment():
    check("reject_dialog_no_comment", blocks.reject_dialog(TASK, "Sign-off", None, None, "D0ALICE", "1.2"))


def test_the_task_list():
    tasks = [
        blocks.ListedTask("IT Manager approval", "New CRM · PRJ-7 · Project intake", AT, False, URL),
        blocks.ListedTask("Finance approval", "Data <warehouse>", None, True, URL + "x"),
    ]
    check("task_list", blocks.task_list(tasks, 12, "https://pmo.example.com/tasks"))
    check("task_list_empty", blocks.task_list([], 0, "https://pmo.example.com/tasks"))


def test_long_values_are_cut_to_slacks_limits():
    long = "x" * 5000
    decided = blocks.Decided(long, long, long, long, "approve", long, AT, URL, None)
    message = blocks.decided_message(decided)
    assert len(message["blocks"][0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section")
