"""Dry runs walk a draft in memory with the engine's parser and runtime, and touch no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from designer import dryrun
from designer.conditions import build
from engine.core.errors import DeploymentInvalid, FormDataInvalid, InvalidInput
from engine.spiff.model.parsing import SourceFile
from tests.bpmn_samples import document, flow, lane, process

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BIG = build({"all": [{"var": "amount", "op": ">=", "value": 1000}]})
FORM = {
    "type": "default",
    "id": "finance-review",
    "schemaVersion": 16,
    "components": [
        {"type": "number", "id": "f1", "key": "amount", "label": "Amount", "validate": {"required": True, "min": 0}},
        {"type": "textfield", "id": "f2", "key": "note", "label": "Note"},
    ],
}


def review_process() -> str:
    """Finance reviews (1-day SLA timer) -> gateway: big amounts to the board, else done."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        '<bpmn:userTask id="review" name="Review"><bpmn:extensionElements><pmoflow:form ref="finance-review"/>'
        "</bpmn:extensionElements></bpmn:userTask>\n"
        '<bpmn:boundaryEvent id="review_sla" name="SLA" attachedToRef="review" cancelActivity="true">'
        '<bpmn:timerEventDefinition id="review_sla_def"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        '"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n'
        '<bpmn:exclusiveGateway id="big" name="Big?" default="small_flow"/>\n'
        '<bpmn:userTask id="board" name="Board"/>\n'
        '<bpmn:endEvent id="done"/>\n<bpmn:endEvent id="late"/>\n'
        + flow("f1", "start", "review")
        + flow("f2", "review", "big")
        + flow("big_flow", "big", "board", BIG.replace(">", "&gt;"))
        + flow("small_flow", "big", "done")
        + flow("f3", "board", "done")
        + flow("f4", "review_sla", "late")
    )
    lanes = (lane("Finance", "start", "review", "review_sla", "big", "done", "late"), lane("Board", "board"))
    return document(process(body, *lanes, pid="review_process"))


def files() -> list[SourceFile]:
    return [
        SourceFile("review.bpmn", review_process().encode()),
        SourceFile("finance-review.form", json.dumps(FORM).encode()),
    ]


def test_the_small_branch_ends_after_the_review():
    run = dryrun.start(files(), {"title": "Laptops"}, now=NOW)
    assert run.status == "running"
    [task] = run.open_tasks
    assert (task["element_id"], task["lane"], task["form"]["id"]) == ("review", "Finance", "finance-review")
    assert task["due_at"] == (NOW + timedelta(days=1)).isoformat()
    assert [t["element_id"] for t in run.timers] == ["review_sla"]
    run = dryrun.step(files(), run.state, {"action": "complete", "task": task["id"], "data": {"amount": 10}})
    assert run.status == "completed"
    assert run.path == ["start", "review", "big", "done"]
    assert run.variables == {"title": "Laptops", "amount": 10}
    assert run.open_tasks == [] and run.timers == []


def test_the_big_branch_goes_to_the_board():
    run = dryrun.start(files(), {}, now=NOW)
    run = dryrun.step(
        files(), run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {"amount": 5000}}
    )
    assert run.status == "running"
    assert [(t["element_id"], t["lane"], t["form"]) for t in run.open_tasks] == [("board", "Board", None)]
    assert run.path == ["start", "review", "big"]
    run = dryrun.step(files(), run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})
    assert run.status == "completed"
    assert run.path == ["start", "review", "big", "board", "done"]


def test_task_data_is_checked_against_the_form():
    run = dryrun.start(files(), {}, now=NOW)
    with pytest.raises(FormDataInvalid) as err:
        dryrun.step(files(), run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {"amount": -1}})
    assert "amount" in err.value.errors


def test_a_timer_fires_on_demand_and_moves_the_runs_clock():
    run = dryrun.start(files(), {}, now=NOW)
    run = dryrun.step(files(), run.state, {"action": "timer"})
    assert run.status == "completed"
    assert run.path == ["start", "review_sla", "late"]
    assert datetime.fromisoformat(run.now) > NOW + timedelta(days=1)
    assert run.open_tasks == []


def test_a_named_timer_that_is_not_waiting_is_refused():
    run = dryrun.start(files(), {}, now=NOW)
    with pytest.raises(InvalidInput, match="not_a_timer"):
        dryrun.step(files(), run.state, {"action": "timer", "element": "not_a_timer"})


def test_a_decision_reports_inputs_outputs_and_matched_rules():
    shipped = [
        SourceFile(p.name, p.read_bytes())
        for p in sorted(WORKFLOWS.glob("*"))
        if p.name.startswith(("project-intake", "approval-"))
    ]
    run = dryrun.start(
        shipped, {"title": "CRM", "budget": 120000, "department": "Sales"}, now=NOW, process="project-intake"
    )
    [decision] = run.decisions
    assert decision["element_id"] == "determine_approval_tier"
    assert decision["inputs"] == {"budget": 120000}
    assert decision["outputs"] == {"tier": 2}
    assert decision["matched_rules"] == ["Rule_tier_2"]
    assert run.path[:2] == ["request_submitted", "determine_approval_tier"]
    assert [t["element_id"] for t in run.open_tasks] == ["it_manager_approval"]
    assert run.start_form["id"] == "project-intake-start"


def test_a_changed_diagram_makes_the_state_stale():
    run = dryrun.start(files(), {}, now=NOW)
    changed = [
        SourceFile("review.bpmn", review_process().replace('name="Board"', 'name="Steering"').encode()),
        files()[1],
    ]
    with pytest.raises(InvalidInput, match="changed"):
        dryrun.step(changed, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        ("not json", {"action": "timer"}, "unreadable"),
        ('{"v": 99}', {"action": "timer"}, "unreadable"),
        (None, {"action": "jump"}, "action must be"),
        (None, {"action": "complete", "task": "nope", "data": {}}, "not open"),
        (None, {"action": "complete", "task": "x", "data": [1]}, "must be an object"),
        (None, {"action": "message", "name": "ping"}, "waits for message"),
    ],
)
def test_bad_actions_are_refused_with_a_reason(state, action, message):
    if state is None:
        state = dryrun.start(files(), {}, now=NOW).state
    with pytest.raises(InvalidInput, match=message):
        dryrun.step(files(), state, action)


def test_an_invalid_draft_reports_every_problem():
    broken = review_process().replace(f">{BIG.replace('>', '&gt;')}<", "><")
    with pytest.raises(DeploymentInvalid) as err:
        dryrun.start([SourceFile("review.bpmn", broken.encode()), files()[1]], {}, now=NOW)
    assert any(p.element_id == "big_flow" for p in err.value.problems)


def test_bad_sample_variables_are_refused():
    with pytest.raises(InvalidInput, match="_secret"):
        dryrun.start(files(), {"_secret": 1}, now=NOW)


def test_a_failing_condition_becomes_an_incident_not_an_error():
    text = review_process().replace(BIG.replace(">", "&gt;"), "amount / 0 &gt; 1")
    run = dryrun.start([SourceFile("review.bpmn", text.encode()), files()[1]], {}, now=NOW)
    run = dryrun.step(
        [SourceFile("review.bpmn", text.encode()), files()[1]],
        run.state,
        {"action": "complete", "task": run.open_tasks[0]["id"], "data": {"amount": 1}},
    )
    assert run.status == "error"
    assert run.incident["element_id"] == "big"


def test_a_repeating_reminder_fires_and_waits_again():
    text = (
        review_process()
        .replace('cancelActivity="true"', 'cancelActivity="false"')
        .replace(
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P1D"</bpmn:timeDuration>',
            '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R/P1D"</bpmn:timeCycle>',
        )
        .replace(flow("f4", "review_sla", "late"), "")
        .replace('<bpmn:endEvent id="late"/>', "")
        .replace('"done", "late"', '"done"')
        .replace("<bpmn:flowNodeRef>late</bpmn:flowNodeRef>", "")
    )
    reminded = [SourceFile("review.bpmn", text.encode()), files()[1]]
    run = dryrun.start(reminded, {}, now=NOW)
    run = dryrun.step(reminded, run.state, {"action": "timer", "element": "review_sla"})
    assert run.path == ["start", "review_sla"]
    assert run.steps[-1]["type"] == "TimerFired"
    assert [t["due_at"] for t in run.timers] == [(NOW + timedelta(days=2)).isoformat()]
    assert [t["element_id"] for t in run.open_tasks] == ["review"]


# ---------------------------------------------------------------- events, gateways (issue #13)

EVENTS = [
    SourceFile(
        "vendor_events.bpmn", (Path(__file__).parents[1] / "models" / "designer" / "vendor_events.bpmn").read_bytes()
    )
]


def test_an_error_thrown_at_a_boundary_interrupts_the_task():
    run = dryrun.start(EVENTS, {"amount": 50}, now=NOW)
    assert [(c["element_id"], c["kind"], c["code"], c["attached_to"], c["interrupting"]) for c in run.catches] == [
        ("frozen", "signal", "budget_frozen", "review", False),
        ("over_budget", "conditional", None, "review", True),
        ("rejected", "error", "VENDOR_REJECTED", "review", True),
    ]
    run = dryrun.step(EVENTS, run.state, {"action": "throw", "element": "rejected"})
    assert run.status == "completed" and run.open_tasks == [] and run.catches == []
    assert run.path == ["start", "rejected", "rejected_end"]


def test_a_non_interrupting_signal_starts_a_path_beside_the_task():
    run = dryrun.start(EVENTS, {"amount": 50}, now=NOW)
    run = dryrun.step(EVENTS, run.state, {"action": "throw", "element": "frozen"})
    assert sorted(t["element_id"] for t in run.open_tasks) == ["notify", "review"]
    assert run.path == ["start", "frozen"]


def test_inclusive_split_and_join_then_an_event_based_gateway():
    run = dryrun.start(EVENTS, {"amount": 5000}, now=NOW)
    run = dryrun.step(EVENTS, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})
    assert run.path == ["start", "review", "split", "legal", "tax", "join"]
    assert [c["element_id"] for c in run.catches] == ["go"]
    assert [t["element_id"] for t in run.timers] == ["timeout"]
    by_signal = dryrun.step(EVENTS, run.state, {"action": "throw", "element": "go"})
    assert by_signal.status == "completed" and by_signal.path[-3:] == ["wait", "go", "done"]
    by_timer = dryrun.step(EVENTS, run.state, {"action": "timer", "element": "timeout"})
    assert by_timer.status == "completed" and by_timer.path[-3:] == ["wait", "timeout", "expired"]


def test_only_a_small_amount_skips_the_legal_check():
    run = dryrun.start(EVENTS, {"amount": 50}, now=NOW)
    run = dryrun.step(EVENTS, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})
    assert run.path == ["start", "review", "split", "tax", "join"]


def test_throwing_at_an_element_that_does_not_wait_is_refused():
    run = dryrun.start(EVENTS, {"amount": 50}, now=NOW)
    with pytest.raises(InvalidInput, match="nothing in this dry run waits at 'go'"):
        dryrun.step(EVENTS, run.state, {"action": "throw", "element": "go"})


REVIEW = [
    SourceFile(
        "vendor_review.bpmn", (Path(__file__).parents[1] / "models" / "designer" / "vendor_review.bpmn").read_bytes()
    )
]


def test_a_sub_process_is_entered_and_left_then_one_task_per_item():
    run = dryrun.start(REVIEW, {"reviewers": ["ann", "ben"]}, now=NOW)
    assert [t["element_id"] for t in run.open_tasks] == ["check"] and run.path == ["start", "prepare_start"]
    assert [t["element_id"] for t in run.timers] == ["late"]  # the sub-process's boundary timer
    run = dryrun.step(REVIEW, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})
    assert run.path[-3:] == ["check", "prepare_end", "prepare"] and run.timers == []
    run = dryrun.step(REVIEW, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})
    assert [t["element_id"] for t in run.open_tasks] == ["approve_each", "approve_each"]
    for verdict in ("yes", "no"):
        run = dryrun.step(
            REVIEW, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {"verdict": verdict}}
        )
    assert run.status == "completed" and run.path[-3:] == ["approve_each", "approve_each", "done"]
    assert [s["name"] for s in run.steps[-3:]] == ["Approve", "Approve", "Done"]
    assert run.variables["verdicts"] == ["yes", "no"]


def test_the_timer_on_a_sub_process_interrupts_it():
    run = dryrun.start(REVIEW, {"reviewers": []}, now=NOW)
    run = dryrun.step(REVIEW, run.state, {"action": "timer", "element": "late"})
    assert run.status == "completed" and run.path == ["start", "prepare_start", "late", "too_late"]
    assert run.open_tasks == []


def test_a_conditional_boundary_fires_once_its_condition_holds():
    run = dryrun.start(EVENTS, {"amount": 50}, now=NOW)
    still = dryrun.step(EVENTS, run.state, {"action": "throw", "element": "over_budget", "payload": {"amount": 60}})
    assert still.status == "running" and "over_budget" in [c["element_id"] for c in still.catches]
    run = dryrun.step(EVENTS, still.state, {"action": "throw", "element": "over_budget", "payload": {"amount": 20000}})
    assert run.status == "completed" and run.path[-2:] == ["over_budget", "escalated"]
    assert run.variables["amount"] == 20000


WATCH = [
    SourceFile(
        "vendor_watch.bpmn", (Path(__file__).parents[1] / "models" / "designer" / "vendor_watch.bpmn").read_bytes()
    )
]


def test_a_signal_starts_a_non_interrupting_event_sub_process():
    run = dryrun.start(WATCH, {}, now=NOW)
    assert [(c["element_id"], c["kind"], c["attached_to"], c["interrupting"]) for c in run.catches] == [
        ("over_budget", "escalation", "negotiate", False),
        ("recalled", "signal", "on_recall", False),
    ]
    run = dryrun.step(WATCH, run.state, {"action": "throw", "element": "recalled"})
    assert sorted(t["element_id"] for t in run.open_tasks) == ["check_recall", "negotiate"]
    for _ in range(2):
        run = dryrun.step(WATCH, run.state, {"action": "complete", "task": run.open_tasks[0]["id"], "data": {}})
    assert run.status == "completed" and {"recalled", "check_recall", "negotiate", "done"} <= set(run.path)


def test_an_escalation_at_a_non_interrupting_boundary_keeps_the_task():
    run = dryrun.start(WATCH, {}, now=NOW)
    run = dryrun.step(WATCH, run.state, {"action": "throw", "element": "over_budget", "payload": {"overrun": 12}})
    assert sorted(t["element_id"] for t in run.open_tasks) == ["inform_sponsor", "negotiate"]
    assert run.path == ["start", "over_budget"] and run.variables["overrun"] == 12
