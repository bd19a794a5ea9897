"""Snapshots of the messages: email (text and HTML) and Teams cards, with and without decision links; every Teams
card validated against the vendored Adaptive Card 1.4 schema (vendor/adaptive-card).

A changed message fails here; after checking the difference, rewrite the snapshots with
`PMOFLOW_UPDATE_SNAPSHOTS=1 pytest tests/engine/notify/test_message_snapshots.py`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.core.config import Settings
from engine.notify import rendering
from engine.notify.preferences import KINDS

HERE = Path(__file__).parent
SNAPSHOTS = HERE / "snapshots"
SCHEMA = json.loads((HERE / "vendor" / "adaptive-card" / "adaptive-card-1.4.json").read_text(encoding="utf-8"))
SETTINGS = Settings(base_url="https://pmo.example.com", smtp_from="pmoflow <noreply@pmo.example.com>")
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OFFER = rendering.Offer(
    "https://pmo.example.com/decide/approve-token",
    "https://pmo.example.com/decide/reject-token",
    datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
)


def context(kind: str) -> dict[str, Any]:
    """A job's context as recipients.context_of writes it, with a title that needs escaping."""
    finished = kind == "instance_finished"
    return {
        "kind": kind,
        "event_type": "instance_completed" if finished else "task_created",
        "task_id": None if finished else "7f1d2c3b-0000-4000-8000-000000000001",
        "task_name": "IT Manager approval",
        "instance_id": "7f1d2c3b-0000-4000-8000-000000000002",
        "request": "New <CRM> & more (PRJ-7)",
        "process": "Project intake",
        "business_key": "PRJ-7",
        "actor": "erin" if kind == "task_escalated" else None,
        "reason": None,
        "outcome": "Rejected" if finished else None,
        "status": "completed" if finished else "running",
        "whom": "your group IT Manager",
        "status_label": "Rejected" if finished else "Running",
        "verdict": "was rejected by frank" if finished else "",
        "due_at": None if finished else "2026-01-07T09:00:00+00:00",
        "occurred_at": NOW.isoformat(),
        "link": "/requests/7f1d2c3b-0000-4000-8000-000000000002"
        if finished
        else "/tasks/7f1d2c3b-0000-4000-8000-000000000001",
    }


# (snapshot name, kind, with decision links)
CASES = [
    ("assigned-decision", "task_assigned", True),
    ("reminder-decision", "task_reminder", True),
    ("escalated-decision", "task_escalated", True),
    ("assigned-form", "task_assigned", False),  # a form that asks for more than a decision: the task page only
    ("breached", "sla_breached", False),
    ("finished", "instance_finished", False),
]


def check(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("PMOFLOW_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"no snapshot {name}: run with PMOFLOW_UPDATE_SNAPSHOTS=1 and check it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} changed"


@pytest.mark.parametrize(("name", "kind", "links"), CASES, ids=[c[0] for c in CASES])
def test_email(name, kind, links):
    mail = rendering.email(
        context(kind), SETTINGS, "alice@example.com", "Alice", "<m1@pmo.example.com>", NOW, OFFER if links else None
    )
    headers = "".join(f"{h}: {mail[h]}\n" for h in ("Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted"))
    check(f"email-{name}.txt", headers + "\n" + mail.get_body(("plain",)).get_content())
    check(f"email-{name}.html", mail.get_body(("html",)).get_content())


@pytest.mark.parametrize(("name", "kind", "links"), CASES, ids=[c[0] for c in CASES])
def test_teams_card(name, kind, links):
    body = rendering.teams(context(kind), SETTINGS, OFFER if links else None)
    check(f"teams-{name}.json", json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    errors = [e.message for e in jsonschema.Draft6Validator(SCHEMA).iter_errors(attachment["content"])]
    assert errors == []
    titles = [a["title"] for a in attachment["content"]["actions"]]
    assert titles[:2] == (["Approve", "Reject"] if links else titles[:2])
    assert ("Approve" in titles) is links


def test_every_kind_renders_a_valid_card():
    for kind in KINDS:
        for offer in (None, OFFER):
            card = rendering.teams(context(kind), SETTINGS, offer)["attachments"][0]["content"]
            jsonschema.Draft6Validator(SCHEMA).validate(card)


def test_the_schema_refuses_what_teams_would_refuse():
    """The check has teeth: a card without an action's URL, or with an unknown element, fails it."""
    card = rendering.teams(context("task_assigned"), SETTINGS, OFFER)["attachments"][0]["content"]
    validator = jsonschema.Draft6Validator(SCHEMA)
    assert not validator.is_valid({**card, "actions": [{"type": "Action.OpenUrl", "title": "Approve"}]})
    assert not validator.is_valid({**card, "body": [{"type": "TextBlok", "text": "x"}]})


def test_the_decision_buttons_link_to_the_confirmation_page_in_both_parts():
    mail = rendering.email(context("task_assigned"), SETTINGS, "a@example.com", "A", "<m@x>", NOW, OFFER)
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    for url in (OFFER.approve, OFFER.reject):
        assert f'href="{url}"' in html and url in text
    assert "12 Jan 2026 09:00 UTC" in text and "New &lt;CRM&gt; &amp; more" in html
