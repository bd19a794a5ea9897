"""Snapshots of the decision notice (requester and watcher), a process's channel post and the daily digest,
as email text, email HTML, Slack body and Teams card (each card valid against the vendored Adaptive Card 1.4
schema, as in test_message_snapshots).

A snapshot that differs fails; `PMOFLOW_UPDATE_SNAPSHOTS=1` writes them again (review the diff).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from engine.core.config import Settings
from engine.notify import rendering, summary
from engine.slack.blocks import SLACK_TEXT_LIMIT
from tests.engine.notify.test_message_snapshots import SCHEMA

SNAPSHOTS = Path(__file__).parent / "snapshots"
SETTINGS = Settings(base_url="https://pmo.example.com", smtp_from="pmoflow <noreply@pmo.example.com>")
NOW = datetime(2026, 12, 6, 6, 30, tzinfo=UTC)

DECIDED = {
    "kind": "watched_finished",
    "event_type": "instance_completed",
    "task_id": None,
    "instance_id": "0b7c1e5e-0000-4000-8000-000000000001",
    "request": "New <CRM> & more (PRJ-7)",
    "process": "Project intake",
    "business_key": "PRJ-7",
    "actor": None,
    "reason": None,
    "outcome": "Rejected",
    "status": "completed",
    "whom": "you",
    "status_label": "Rejected",
    "verdict": "was rejected by alice",
    "due_at": None,
    "occurred_at": "2026-12-05T10:00:00+00:00",
    "link": "/requests/0b7c1e5e-0000-4000-8000-000000000001",
    "task_name": "Approve",
}
REQUESTER = {**DECIDED, "kind": "instance_finished"}
DIGEST = {
    "kind": "digest",
    "display_name": "Alice <Admin>",
    "day": "2026-12-06",
    "zone": "Europe/Berlin",
    "counts": {"waiting": 23, "overdue": 1, "delegated": 1},
    "overdue": [
        {
            "task_name": "Approve",
            "request": "Late one (PRJ-1)",
            "link": "/tasks/t-1",
            "due_at": "2026-12-05T13:00:00+01:00",
            "assignee": None,
        }
    ],
    "waiting": [
        {
            "task_name": "Review *budget*",
            "request": f"Request {n} <x>",
            "link": f"/tasks/w-{n}",
            "due_at": None,
            "assignee": None,
        }
        for n in range(12)
    ],
    "delegated": [
        {
            "task_name": "Approve",
            "request": "Handed over (PRJ-3)",
            "link": "/tasks/d-1",
            "due_at": None,
            "assignee": "ann",
        }
    ],
    "link": "/tasks",
}
ANNOUNCED = rendering.Message(
    subject="Rejected: Laptops (PO-7)",
    lead="Laptops (PO-7) was rejected by alice.",
    facts=[("Process", "Purchase"), ("Outcome", "Rejected")],
    url="https://pmo.example.com/requests/r-1",
    action="Open the request",
    settings_url="https://pmo.example.com/account/notifications",
)


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("PMOFLOW_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its snapshot (PMOFLOW_UPDATE_SNAPSHOTS=1 to accept)"


def as_json(body: dict) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def card(body: dict) -> dict:
    """A Teams body whose card is valid Adaptive Card 1.4."""
    jsonschema.validate(body["attachments"][0]["content"], SCHEMA)
    return body


@pytest.mark.parametrize(("name", "context"), [("decided_watcher", DECIDED), ("decided_requester", REQUESTER)])
def test_the_decision_notice(name, context):
    mail = rendering.email(context, SETTINGS, "ann@example.com", "Ann", "<m-1@pmo.example.com>", NOW)
    check(f"{name}.subject.txt", mail["Subject"] + "\n")
    check(f"{name}.email.txt", mail.get_body(("plain",)).get_content())
    check(f"{name}.email.html", mail.get_body(("html",)).get_content())
    check(f"{name}.slack.json", as_json(rendering.slack(context, SETTINGS)))
    check(f"{name}.teams.json", as_json(card(rendering.teams(context, SETTINGS))))


def test_the_channel_post():
    check("announced.slack.json", as_json(rendering.slack_body(ANNOUNCED)))
    check("announced.teams.json", as_json(card(rendering.teams_body(ANNOUNCED))))


def test_the_digest():
    mail = summary.email(DIGEST, SETTINGS, "alice@example.com", "Alice", "<m-2@pmo.example.com>", NOW)
    check("digest.subject.txt", mail["Subject"] + "\n")
    check("digest.email.txt", mail.get_body(("plain",)).get_content())
    html = mail.get_body(("html",)).get_content()
    check("digest.email.html", html)
    assert "Alice &lt;Admin&gt;" in html and "<Admin>" not in html and "…and 11 more" in html
    slack = summary.slack(DIGEST, SETTINGS)
    check("digest.slack.json", as_json(slack))
    assert all(len(b["text"]["text"]) <= SLACK_TEXT_LIMIT for b in slack["blocks"] if b["type"] == "section")
    check("digest.teams.json", as_json(card(summary.teams(DIGEST, SETTINGS))))
