"""The XPath subset (BPMN's default expression language) turned into sandbox Python at deploy
(engine.spiff.expressions.xpath)."""

from __future__ import annotations

import pytest

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.expressions.translate import JUEL, XPATH, Where, compile_condition, dialect
from engine.spiff.expressions.xpath import XPathUnsupported, translate

XPATH_URI = "http://www.w3.org/1999/XPath"
WHERE = Where("model.bpmn", "Flow_1", 7)


def run(text: str, data: dict):
    python = compile_condition(text, XPATH_URI, WHERE)
    assert isinstance(python, str), python
    return SandboxedEnvironment().evaluate(python, data)


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("bpmn:getDataObject('approved')", {"approved": True}, True),
        ("not(bpmn:getDataObject('approved'))", {"approved": True}, False),
        ("getDataObject(\"clarified\") = 'yes'", {"clarified": "yes"}, True),
        ("bpmn:getDataObject('clarified') = 'no'", {"clarified": "yes"}, False),
        ("Service Level == 'Premium'", {"Service Level": "Premium"}, True),
        ("Service Level = 'Premium'", {"Service Level": "Standard"}, False),
        ("amount > 1000", {"amount": 1500}, True),
        ("amount >= 1000 and amount <= 2000", {"amount": 2000}, True),
        ("amount < 1000 or urgent", {"amount": 5000, "urgent": True}, True),
        ("$amount != 3", {"amount": 3}, False),
        ('first-name = "Ann"', {"first-name": "Ann"}, True),
        ("not(a = 1 or b = 2) and true()", {"a": 0, "b": 0}, True),
        ("false() or (x > -1.5)", {"x": 0}, True),
        ("Days Remaining >= 10", {"Days Remaining": 12}, True),
        ("Größe > .5", {"Größe": 1}, True),
        ("approved = true and urgent == False", {"approved": True, "urgent": False}, True),
        ("Service Level eq 'Premium' and amount gt 5", {"Service Level": "Premium", "amount": 6}, True),
    ],
)
def test_the_subset_runs_as_xpath_means(text: str, data: dict, expected: object) -> None:
    assert run(text, data) is expected


def test_a_variable_that_is_not_set_fails_when_evaluated() -> None:
    python = translate("Service Level = 'Premium'")
    with pytest.raises(NameError, match="Service Level"):
        SandboxedEnvironment().evaluate(python, {})


def test_a_sandbox_builtin_is_not_read_as_a_variable() -> None:
    with pytest.raises(NameError):
        SandboxedEnvironment().evaluate(translate("len = 1"), {})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("bpmn:getActivityProperty('task', 'x')", "getActivityProperty() at position 1 is not supported"),
        ("count(items) > 0", "count()"),
        ("/order/amount > 5", "paths are not supported"),
        ("amount + 1 > 5", "arithmetic"),
        ("amount div 2 > 5", "arithmetic"),
        ("a = 1 = b", "chained comparison"),
        ("order[1]", "predicates"),
        ("ns:amount > 1", "prefixed names"),
        ("getDataObject(name)", "needs the data object's name"),
        ("_secret = 1", "reserved"),
        ("(a = 1", "expected ')'"),
        ("a =", "unexpected the end"),
        ("amount > 1000 EUR", "unexpected 'EUR'"),
        ("not approved", "write not(...)"),
        ("a eq b eq c", "chained comparison"),
    ],
)
def test_what_the_subset_refuses_is_a_deploy_problem(text: str, reason: str) -> None:
    with pytest.raises(XPathUnsupported, match=None) as refused:
        translate(text)
    assert reason in str(refused.value)
    problem = compile_condition(text, XPATH_URI, WHERE)
    assert isinstance(problem, Problem) and problem.element_id == "Flow_1" and problem.line == 7
    assert "XPath subset" in problem.message and repr(text) in problem.message


def test_juel_and_feel_written_under_the_xpath_default_stay_what_they_are() -> None:
    assert dialect("${approved}", XPATH_URI) == JUEL
    assert dialect("Service Level = 'x'", XPATH_URI) == XPATH
    assert dialect("Service Level = 'x'", "http://www.w3.org/TR/XPath") == XPATH
    assert run("${!approved}", {"approved": False}) is True
    assert run("= x > 1", {"x": 2}) is True
