"""FEEL and JUEL expressions turned into sandbox Python at deploy (engine.spiff.expressions.translate,
engine.spiff.expressions.juel)."""

from __future__ import annotations

import pytest

from engine.core.errors import Problem
from engine.dmn.feel import FeelError
from engine.spiff.expressions.juel import JuelUnsupported, translate
from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.expressions.translate import (
    FEEL,
    JUEL,
    PYTHON,
    XPATH,
    Where,
    compile_condition,
    compile_expression,
    dialect,
)

WHERE = Where("model.bpmn", "Flow_1", 7)
FEEL_URI = "https://www.omg.org/spec/DMN/20191111/FEEL/"


def run(text: str, data: dict, language: str | None = None):
    python = compile_condition(text, language, WHERE)
    assert isinstance(python, str), python
    return SandboxedEnvironment().evaluate(python, data)


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("${approved}", {"approved": True}, True),
        ("${amount > 1000}", {"amount": 1500}, True),
        ("${amount > 1000}", {"amount": 1000}, False),
        ("${status == 'ok' && !urgent}", {"status": "ok", "urgent": False}, True),
        ("${status == 'ok' && !urgent}", {"status": "ok", "urgent": True}, False),
        ('${status == "ok" || urgent}', {"status": "no", "urgent": True}, True),
        ("${a eq 1 and b ne 2}", {"a": 1, "b": 3}, True),
        ("${a lt 1 or b gt 2}", {"a": 1, "b": 3}, True),
        ("${a le 1 && b ge 3}", {"a": 1, "b": 3}, True),
        ("${not approved}", {"approved": False}, True),
        ("${empty comment}", {"comment": ""}, True),
        ("${empty items}", {"items": []}, True),
        ("${empty items}", {"items": [1]}, False),
        ("${empty x}", {"x": None}, True),
        ("${empty x}", {"x": 0}, False),
        ("${!empty x}", {"x": "a"}, True),
        ("${x == null}", {"x": None}, True),
        ("${x != null}", {"x": 3}, True),
        ("${order.total >= 100}", {"order": {"total": 120}}, True),
        ("${order['lines'][0].qty == 2}", {"order": {"lines": [{"qty": 2}]}}, True),
        ("${(a + b) * 2 > 10}", {"a": 3, "b": 3}, True),
        ("${a / 4 == 0.5}", {"a": 2}, True),
        ("${a div 4 == 0.5 and a mod 2 == 0}", {"a": 2}, True),
        ("${a % 3 == 1}", {"a": 7}, True),
        ("${-a < 0}", {"a": 7}, True),
        ("${1.5e3 == 1500}", {}, True),
        ("${true}", {}, True),
        ("${false || false}", {}, False),
        ("#{approved}", {"approved": True}, True),
        ("  ${approved}\n  ", {"approved": True}, True),
        (r"${name == 'O\'Brien'}", {"name": "O'Brien"}, True),
        ('${name == "a}b"}', {"name": "a}b"}, True),
        ("${x > 1 ? 'big' : 'small'}", {"x": 2}, "big"),
        ("${x > 1 ? 'big' : x > 0 ? 'some' : 'none'}", {"x": 1}, "some"),
    ],
)
def test_juel_forms_evaluate_like_camunda(text: str, data: dict, expected: object) -> None:
    assert run(text, data) == expected


def test_a_juel_template_is_a_string() -> None:
    assert run("Dear ${name}, your total is ${order.total}.", {"name": "Ann", "order": {"total": 5}}) == (
        "Dear Ann, your total is 5."
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${execution.getVariable('x')}", "'execution' object"),
        ("${myBean.approve(x)}", "method approve()"),
        ("${size(items) > 0}", "function size()"),
        ("${__import__('os').system('id')}", "'__import__'"),
        ("${x.__class__}", "'__class__'"),
        ("${a = 1}", "'='"),
        ("${a +}", "the end"),
        ("${a b}", "unexpected 'b'"),
        ("${x instanceof y}", "'instanceof'"),
        ("${class}", "'class'"),
        ("${a $b}", "'$b'"),
        ("${ {1, 2} }", "maps and sets"),
        ("${approved", "not closed"),
        ("${}", "empty expression"),
        ("${a ; b}", "unexpected character ';'"),
        ("${a[0}", "expected ']'"),
    ],
)
def test_juel_beyond_the_subset_is_refused_naming_the_reason(text: str, reason: str) -> None:
    with pytest.raises(JuelUnsupported, match=None) as err:
        translate(text)
    assert reason in str(err.value)
    problem = compile_condition(text, None, WHERE)
    assert isinstance(problem, Problem)
    assert (problem.file, problem.element_id, problem.line) == ("model.bpmn", "Flow_1", 7)
    assert text.strip() in problem.message and problem.code == "unsupported_expression"


@pytest.mark.parametrize(
    "text",
    [
        "${''.__class__}",
        "${x['__class__']['__base__']}",
        "${'a' * 100000000}",
    ],
)
def test_translated_juel_still_runs_in_the_sandbox(text: str) -> None:
    python = compile_condition(text, None, WHERE)
    if isinstance(python, Problem):
        return  # refused at deploy: fine
    with pytest.raises((SandboxError, KeyError, TypeError)):
        SandboxedEnvironment().evaluate(python, {"x": {}})


def test_translation_output_is_python_text_not_executed_at_deploy() -> None:
    assert translate("${a > 1}") == "(a > 1)"
    assert translate("${status == 'ok' && !urgent}") == "((status == 'ok') and (not urgent))"


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("=amount > 1000", {"amount": 1500}, True),
        ('= status = "ok" and not(urgent)', {"status": "ok", "urgent": False}, True),
        ("=order.total * 2", {"order": {"total": 2.5}}, 5),
        ('=if x > 1 then "big" else "small"', {"x": 0}, "small"),
        ("=count(items) >= 2", {"items": [1, 2]}, True),
        ('=duration("PT5M")', {}, "PT5M"),
        ("=missing = null", {}, True),
        ("={a: 1, b: [x, 2]}", {"x": 1}, {"a": 1, "b": [1, 2]}),
    ],
)
def test_feel_with_the_equals_prefix_runs_in_our_feel_engine(text: str, data: dict, expected: object) -> None:
    assert run(text, data) == expected


def test_feel_named_by_the_language_attribute() -> None:
    assert run("amount > 1000", {"amount": 2000}, FEEL_URI) is True
    assert run("amount > 1000", {"amount": 2000}, "http://www.omg.org/spec/FEEL/20140401") is True
    assert run("=amount > 1000", {"amount": 2000}, "feel") is True


def test_feel_multi_word_names_given_by_the_model() -> None:
    python = compile_expression(
        'Vacation Approval = "Approved"', FEEL_URI, WHERE, "condition", names=("Vacation Approval", "Other Name")
    )
    assert isinstance(python, str)
    assert SandboxedEnvironment().evaluate(python, {"Vacation Approval": "Approved"}) is True


def test_feel_syntax_error_is_a_problem_naming_element_and_text() -> None:
    problem = compile_condition("= amount >", None, WHERE)
    assert isinstance(problem, Problem)
    assert problem.element_id == "Flow_1" and "'= amount >'" in problem.message and "FEEL" in problem.message


def test_feel_unknown_function_is_a_deploy_problem() -> None:
    assert isinstance(compile_condition("=no such function(1)", None, WHERE), Problem)


def test_feel_type_mismatch_is_null_and_a_hard_bound_is_an_error_naming_the_expression() -> None:
    assert run("=amount > 1000", {"amount": "lots"}) is None  # the standard's null: the flow is not taken
    with pytest.raises(FeelError, match="date out of range"):
        run('=date("999999999-12-31") + duration("P1D") > due', {"due": "x"})


def test_feel_call_needs_literal_text() -> None:
    with pytest.raises(FeelError):
        SandboxedEnvironment().evaluate("feel(1)", {})


@pytest.mark.parametrize(
    ("text", "language", "kind"),
    [
        ("=x", None, FEEL),
        ("${x}", None, JUEL),
        ("x > 1", None, PYTHON),
        ("x", "http://www.w3.org/1999/XPath", XPATH),
        ("x", "text/x-python", PYTHON),
        ("x", "juel", JUEL),
        ("x", FEEL_URI, FEEL),
    ],
)
def test_dialect(text: str, language: str | None, kind: str) -> None:
    assert dialect(text, language) == kind


def test_unknown_language_is_a_problem() -> None:
    problem = compile_condition("x > 1", "javascript", WHERE)
    assert isinstance(problem, Problem) and "javascript" in problem.message


def test_python_is_passed_through_and_checked() -> None:
    assert compile_condition(" x > 1 ", None, WHERE) == "x > 1"
    assert isinstance(compile_condition("x >", None, WHERE), Problem)
    assert isinstance(compile_condition("__import__('os')", None, WHERE), Problem)
    assert isinstance(compile_condition("  ", None, WHERE), Problem)


def test_a_language_naming_juel_reads_text_without_the_braces():
    assert run("amount gt 5", {"amount": 6}, "juel") is True
    assert run("${amount gt 5}", {"amount": 4}, "http://java.sun.com/products/jsp/juel") is False
