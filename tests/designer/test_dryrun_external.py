"""Dry runs play external tasks: complete one with a worker's variables, or throw a BPMN error at it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from designer import dryrun
from engine.core.errors import InvalidInput
from engine.spiff.model.parsing import SourceFile

MODEL = Path(__file__).resolve().parents[1] / "models" / "external" / "camunda7_payment.bpmn"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FILES = [SourceFile(MODEL.name, MODEL.read_bytes())]


def test_a_dry_run_completes_external_tasks():
    run = dryrun.start(FILES, {"amount": 5}, now=NOW)
    [charge] = run.external_tasks
    assert (charge["element_id"], charge["topic"]) == ("Activity_charge", "charge-card")
    run = dryrun.step(FILES, run.state, {"action": "external", "task": charge["id"], "data": {"paid": True}})
    [book] = run.external_tasks
    run = dryrun.step(FILES, run.state, {"action": "external", "task": book["id"]})
    assert run.status == "completed" and run.variables["paid"] is True
    assert run.path == ["StartEvent_1", "Activity_charge", "Activity_book", "Event_paid"]


def test_a_dry_run_throws_a_bpmn_error_at_an_external_task():
    run = dryrun.start(FILES, {"amount": 5}, now=NOW)
    [charge] = run.external_tasks
    run = dryrun.step(FILES, run.state, {"action": "external", "task": charge["id"], "error_code": "CARD_DECLINED"})
    assert [t["element_id"] for t in run.external_tasks] == ["Activity_notify"]
    with pytest.raises(InvalidInput):
        dryrun.step(FILES, run.state, {"action": "external", "task": charge["id"]})
