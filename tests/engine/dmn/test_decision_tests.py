"""Decision test tables, run on every deployment; a failing test refuses the deployment."""

from __future__ import annotations

import pytest

from engine.core.errors import DeploymentInvalid
from engine.spiff.model.parsing import SourceFile, parse_deployment
from tests.factories import WORKFLOWS

from .samples import case_row, dmn, literal, table

TIERS = [(["< 50000"], ["1"]), (["[50000..250000]"], ["2"]), (["> 250000"], ["3"])]


def deploy(*files: tuple[str, str]):
    return parse_deployment([SourceFile(n, t.encode()) for n, t in files], max_bytes=1_000_000)


def refused(*files: tuple[str, str]):
    with pytest.raises(DeploymentInvalid) as info:
        deploy(*files)
    return info.value.problems


def test_a_deployment_may_hold_decisions_only():
    parsed = deploy(("tiers.dmn", dmn(table("tiers", ["budget"], ["tier"], TIERS))))
    assert parsed.processes == []
    assert [(d.key, d.dmn_file) for d in parsed.decisions] == [("tiers", "tiers.dmn")]


def test_passing_tests_let_the_deployment_through():
    tests = case_row("t1", {"budget": "50000"}, {"tier": "2"}) + case_row("t2", {"budget": "null"}, {"tier": "null"})
    [decision] = deploy(("tiers.dmn", dmn(table("tiers", ["budget"], ["tier"], TIERS, tests=tests)))).decisions
    assert [t.name for t in decision.model.top.tests] == ["t1", "t2"]


def test_a_failing_test_refuses_the_deployment_and_names_the_test():
    tests = case_row("boundary", {"budget": "250000"}, {"tier": "3"})
    text = dmn(table("tiers", ["budget"], ["tier"], TIERS, tests=tests))
    [problem] = refused(("tiers.dmn", text))
    assert problem.code == "decision_test_failed"
    assert (problem.file, problem.element_id) == ("tiers.dmn", "boundary")
    assert problem.line == text[: text.index('id="boundary"')].count("\n") + 1
    assert problem.message == (
        "decision test 'boundary' of decision 'tiers' failed: expected tier = 3, got 2 (matched rules: 2 (tiers_rule2))"
    )


def test_a_test_whose_decision_fails_or_names_an_unknown_output():
    erroring = case_row("text budget", {"budget": '"lots"'}, {"tier": "3"})
    unknown = case_row("typo", {"budget": "1"}, {"teir": "1"})
    problems = refused(("tiers.dmn", dmn(table("tiers", ["budget"], ["tier"], TIERS, tests=erroring + unknown))))
    assert [p.element_id for p in problems] == ["text budget", "typo"]
    assert "the decision failed: decision 'tiers', rule 1 (tiers_rule1)" in problems[0].message
    assert "has no output 'teir'" in problems[1].message


def test_tests_use_feel_values_and_may_refer_to_their_inputs():
    rules = [(["-"], ['due + duration("P30D")', "items[item > 1]"])]
    tests = case_row(
        "dates",
        {"due": 'date("2026-01-15")', "items": "[1, 2, 3]"},
        {"deadline": 'due + duration("P30D")', "big": "[2, 3]"},
    )
    deploy(("d.dmn", dmn(table("d", ["due"], ["deadline", "big"], rules, tests=tests))))


def test_tests_of_literal_and_required_decisions():
    base = literal("net", "gross * 0.8", requires=[], tests=case_row("t_net", {"gross": "100"}, {"net": "80"}))
    top = literal("tax", "net * 0.25", requires=["net"], tests=case_row("t_tax", {"gross": "100"}, {"tax": "21"}))
    [problem] = refused(("tax.dmn", dmn(base, top)))
    assert problem.element_id == "t_tax" and "expected tax = 21, got 20" in problem.message


def test_python_decisions_are_tested_in_the_sandbox():
    rules = [(["< 50000"], ["1"]), (["50000 <= ? <= 250000"], ["2"]), (["> 250000"], ["3"])]
    tests = case_row("legacy", {"budget": "250000"}, {"tier": "2"})
    deploy(("legacy.dmn", dmn(table("tiers", ["budget"], ["tier"], rules, tests=tests))))


def test_the_shipped_decisions_pass_their_tests():
    files = [(p.name, p.read_text()) for p in sorted(WORKFLOWS.glob("*.dmn"))]
    parsed = deploy(*files)
    tests = {d.key: len(d.model.top.tests) for d in parsed.decisions}
    assert tests["approval_tier"] >= 5 and tests["change_risk"] >= 5
    assert {d.model.language() for d in parsed.decisions} == {"feel"}


def _clock(monkeypatch: pytest.MonkeyPatch, name: str, step: float) -> None:
    """Make the test-table runner's `name` clock advance `step` seconds at every reading."""
    from engine.dmn import testcases

    now = [getattr(testcases, name)()]

    def read() -> float:
        now[0] += step
        return now[0]

    monkeypatch.setattr(testcases, name, read)


def _six_rows():
    tests = "".join(case_row(f"t{i}", {"budget": "50000"}, {"tier": "2"}) for i in range(6))
    return ("tiers.dmn", dmn(table("tiers", ["budget"], ["tier"], TIERS, tests=tests)))


def test_a_busy_machine_does_not_refuse_a_valid_table(monkeypatch: pytest.MonkeyPatch):
    # each row seen to take a second of elapsed time (a stalled process), six rows against a 3 s limit: the
    # budget counts this thread's CPU time, so the valid table is deployed (it was refused as out of time)
    _clock(monkeypatch, "_wall", 1.0)
    [decision] = deploy(_six_rows()).decisions
    assert len(decision.model.top.tests) == 6


def test_a_table_that_spends_its_cpu_budget_is_refused_at_the_row_it_reached(monkeypatch: pytest.MonkeyPatch):
    _clock(monkeypatch, "_cpu", 1.0)  # each reading a second of CPU later: the budget is gone after two rows
    problems = refused(_six_rows())
    assert [p.element_id for p in problems] == ["t2", "t3", "t4", "t5"]
    assert all("ran out of their time limit of 3 s" in p.message for p in problems)


def test_elapsed_time_is_bounded_too(monkeypatch: pytest.MonkeyPatch):
    _clock(monkeypatch, "_wall", 5.0)  # four times the limit (12 s) is passed at the third row
    problems = refused(_six_rows())
    assert [p.element_id for p in problems] == ["t2", "t3", "t4", "t5"]
