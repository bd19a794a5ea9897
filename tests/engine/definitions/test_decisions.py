"""Decisions through the services, on SQLite and PostgreSQL: versions, evaluation, business rule tasks."""

from __future__ import annotations

import pytest

from engine.core.errors import DecisionFailed, DeploymentInvalid, Forbidden, NotFound
from engine.definitions import decisions, deployments
from engine.runtime import instances
from tests.bpmn_samples import linear, script_task
from tests.engine.dmn.samples import case_row, dmn, table
from tests.factories import ADMIN, ALICE, AUDREY, BOT, source

TIERS = [(["< 50000"], ["1"]), (["[50000..250000]"], ["2"]), (["> 250000"], ["3"])]
CHEAPER_TIERS = [(["< 10000"], ["1"]), (["[10000..100000]"], ["2"]), (["> 100000"], ["3"])]


def tiers_dmn(rules=TIERS, tests: str = "") -> str:
    return dmn(table("tiers", ["budget"], ["tier"], rules, tests=tests))


def rule_task(decision: str = "tiers") -> str:
    return (
        f'<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
        f'<pmoflow:decision ref="{decision}"/></bpmn:extensionElements></bpmn:businessRuleTask>\n'
    )


PROCESS = linear((rule_task(), "decide"), (script_task("after", "checked = True"), "after"), pid="tiering")


def deploy(ctx, *files: tuple[str, str]):
    return deployments.deploy(ctx, ADMIN, [source(n, t) for n, t in files])


def decision_events(ctx, instance_id: str) -> list[dict]:
    return [e.data for e in instances.audit_trail(ctx, AUDREY, instance_id) if e.type == "decision_evaluated"]


# ---------------------------------------------------------------- versions


def test_decisions_are_deployed_and_versioned_like_processes(ctx):
    first = deploy(ctx, ("tiers.dmn", tiers_dmn()))
    assert first.id is not None and first.definitions == []
    assert [(d.key, d.version, d.new, d.language, d.hit_policy) for d in first.decisions] == [
        ("tiers", 1, True, "feel", "UNIQUE")
    ]
    again = deploy(ctx, ("tiers.dmn", tiers_dmn()))
    assert again.id is None and [(d.version, d.new) for d in again.decisions] == [(1, False)]
    changed = deploy(ctx, ("tiers.dmn", tiers_dmn(CHEAPER_TIERS)))
    assert [(d.version, d.new) for d in changed.decisions] == [(2, True)]
    assert [v.version for v in decisions.get_decision(ctx, AUDREY, "tiers")] == [2, 1]
    [latest] = decisions.list_decisions(ctx, ALICE)
    assert (latest.key, latest.version, latest.outputs, latest.inputs[0]["expression"]) == (
        "tiers",
        2,
        ["tier"],
        "budget",
    )


def test_a_decision_whose_tests_fail_is_not_deployed(ctx):
    bad = case_row("boundary", {"budget": "250000"}, {"tier": "3"})
    with pytest.raises(DeploymentInvalid) as info:
        deploy(ctx, ("tiers.dmn", tiers_dmn(tests=bad)))
    assert info.value.problems[0].code == "decision_test_failed"
    assert decisions.list_decisions(ctx, ADMIN) == []


# ---------------------------------------------------------------- evaluating as a service


def test_evaluate_returns_outputs_matched_rules_and_trace(ctx):
    deploy(ctx, ("tiers.dmn", tiers_dmn()))
    deploy(ctx, ("tiers.dmn", tiers_dmn(CHEAPER_TIERS)))
    result = decisions.evaluate(ctx, BOT, "tiers", {"budget": 60_000})
    assert (result.decision, result.version, result.outputs) == ("tiers", 2, {"tier": 2})
    assert result.matched_rules == [{"decision": "tiers", "id": "tiers_rule2", "number": 2, "description": ""}]
    assert result.trace[0]["inputs"] == {"budget": 60_000} and result.trace[0]["hit_policy"] == "UNIQUE"
    assert decisions.evaluate(ctx, BOT, "tiers", {"budget": 60_000}, version=1).outputs == {"tier": 2}
    assert decisions.evaluate(ctx, BOT, "tiers", {"budget": 20_000}, version=1).outputs == {"tier": 1}
    assert decisions.evaluate(ctx, ADMIN, "tiers", {}).outputs == {"tier": None}


def test_evaluate_errors(ctx):
    deploy(ctx, ("tiers.dmn", tiers_dmn()))
    with pytest.raises(NotFound):
        decisions.evaluate(ctx, BOT, "nope", {})
    with pytest.raises(NotFound):
        decisions.evaluate(ctx, BOT, "tiers", {}, version=9)
    with pytest.raises(Forbidden):
        decisions.evaluate(ctx, ALICE, "tiers", {})
    with pytest.raises(DecisionFailed) as info:
        decisions.evaluate(ctx, BOT, "tiers", {"budget": "lots"})
    assert info.value.details["rule_id"] == "tiers_rule1" and info.value.details["text"] == "< 50000"


# ---------------------------------------------------------------- inside processes


def test_a_business_rule_task_records_its_evaluation_for_auditors(ctx):
    deploy(ctx, ("p.bpmn", PROCESS), ("tiers.dmn", tiers_dmn()))
    view = instances.start(ctx, BOT, "tiering", variables={"budget": 120_000})
    assert view.status == "completed" and view.variables["tier"] == 2
    [event] = decision_events(ctx, view.id)
    assert event == {
        "name": "Decide",  # the business rule task's name, for the path (engine.tasks.path)
        "decision": "tiers",
        "version": 1,
        "decision_table": "tiers_table",
        "hit_policy": "UNIQUE",
        "inputs": {"budget": 120_000},
        "outputs": {"tier": 2},
        "matched_rules": ["tiers_rule2"],
        "required": [],
    }


def test_a_call_that_cannot_work_is_null_and_its_warning_is_in_the_audit_event(ctx):
    rules = [(["-"], ["abs(number: budget)"])]  # abs() has no parameter `number`: null, not a refused deploy
    deploy(ctx, ("p.bpmn", PROCESS), ("tiers.dmn", dmn(table("tiers", ["budget"], ["tier"], rules))))
    view = instances.start(ctx, BOT, "tiering", variables={"budget": 120_000})
    assert view.status == "completed" and view.variables["tier"] is None
    [event] = decision_events(ctx, view.id)
    assert event["warnings"] == ["abs() has no parameter 'number'; the result is null"]


def test_no_matching_rule_sets_null_outputs_in_the_process(ctx):
    deploy(ctx, ("p.bpmn", PROCESS), ("tiers.dmn", tiers_dmn()))
    view = instances.start(ctx, BOT, "tiering", variables={"title": "no budget"})
    assert view.status == "completed" and "tier" in view.variables and view.variables["tier"] is None
    assert decision_events(ctx, view.id)[0]["matched_rules"] == []


def test_a_process_version_keeps_evaluating_its_decision_version(ctx):
    deploy(ctx, ("p.bpmn", PROCESS), ("tiers.dmn", tiers_dmn()))
    deploy(ctx, ("tiers.dmn", tiers_dmn(CHEAPER_TIERS)))  # decision v2 alone: the process keeps v1
    old = instances.start(ctx, BOT, "tiering", variables={"budget": 60_000})
    assert old.variables["tier"] == 2 and decision_events(ctx, old.id)[0]["version"] == 1
    redeployed = deploy(ctx, ("p.bpmn", PROCESS), ("tiers.dmn", tiers_dmn(CHEAPER_TIERS)))
    assert [(d.key, d.version) for d in redeployed.definitions] == [("tiering", 2)]
    new = instances.start(ctx, BOT, "tiering", variables={"budget": 60_000})
    assert new.variables["tier"] == 2 and new.version == 2
    assert decision_events(ctx, new.id)[0]["version"] == 2
    cheap = instances.start(ctx, BOT, "tiering", variables={"budget": 150_000})
    assert cheap.variables["tier"] == 3
    pinned = instances.start(ctx, BOT, "tiering", version=1, variables={"budget": 150_000})
    assert pinned.variables["tier"] == 2


def test_a_failing_decision_is_an_incident_naming_the_cell_and_can_be_retried(ctx):
    deploy(ctx, ("p.bpmn", PROCESS), ("tiers.dmn", tiers_dmn()))
    view = instances.start(ctx, BOT, "tiering", variables={"budget": "120000"})
    assert view.status == "error"
    message = view.error["message"]
    assert "decision 'tiers', rule 1 (tiers_rule1), input 'budget' '< 50000'" in message
    assert 'cannot compare string "120000" with number 50000' in message
    assert view.error["element_id"] == "decide" and view.error["kind"] == "DecisionError"
    fixed = instances.retry(ctx, ADMIN, view.id, {"budget": 120_000})
    assert fixed.status == "completed" and fixed.variables["tier"] == 2


def test_decisions_of_a_requirement_graph_are_recorded_together(ctx):
    graph = dmn(
        table("size", ["budget"], ["size"], [(["< 100000"], ['"small"']), (["-"], ['"large"'])], hit_policy="FIRST"),
        table("tiers", ["size"], ["tier"], [(['"small"'], ["1"]), (['"large"'], ["3"])], requires=["size"]),
    )
    deploy(ctx, ("p.bpmn", PROCESS), ("graph.dmn", graph))
    view = instances.start(ctx, BOT, "tiering", variables={"budget": 500_000})
    assert view.variables["tier"] == 3 and "size" not in view.variables
    [event] = decision_events(ctx, view.id)
    assert event["required"] == [{"decision": "size", "matched_rules": ["size_rule2"], "outputs": {"size": "large"}}]
    assert [d.key for d in decisions.list_decisions(ctx, ADMIN)] == ["size", "tiers"]
