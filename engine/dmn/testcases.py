"""Running a decision's test table: every row's inputs in, every expected output compared.

Input values and expected outputs are FEEL expressions (`120000`, `"standard"`,
`date("2026-01-01")`, `[1, 2]`, `null`); an expected value may use the row's inputs.
Outputs are compared with FEEL's `=`. A row fails when an output differs, when the
decision raises an error, or when it names an output the decision does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.dmn.compiled import CompiledModel
from engine.dmn.errors import DecisionError
from engine.dmn.evaluate import evaluate
from engine.dmn.feel import FeelError, FeelSyntaxError, compile_expression
from engine.dmn.feel.values import equal, to_text
from engine.dmn.model import TestCase
from engine.dmn.python_cells import PythonRunner, to_native


@dataclass(frozen=True)
class TestFailure:
    """One test row that did not pass, and why."""

    decision: str
    test: TestCase
    reason: str

    def describe(self) -> str:
        return f"decision test {self.test.name!r} of decision {self.decision!r} failed: {self.reason}"


def run_tests(
    model: CompiledModel, *, python: PythonRunner | None = None, now: Callable[[], datetime] | None = None
) -> list[TestFailure]:
    """Run the test table of the model's decision; returns the failures (empty if all pass)."""
    top = model.model.top
    failures = []
    for test in top.tests:
        reason = _run_one(model, test, python, now)
        if reason is not None:
            failures.append(TestFailure(top.id, test, reason))
    return failures


def _run_one(
    model: CompiledModel, test: TestCase, python: PythonRunner | None, now: Callable[[], datetime] | None
) -> str | None:
    names = model.model.names()
    try:
        inputs = {name: to_native(_value(text, {}, names)) for name, text in test.inputs}
    except (FeelSyntaxError, FeelError, RecursionError) as err:
        return f"input value cannot be read: {err}"
    try:
        result = evaluate(model, inputs, now=now, python=python)
    except DecisionError as err:
        return f"the decision failed: {err}"
    wrong = []
    for name, text in test.expected:
        if name not in result.values:
            return f"the decision has no output {name!r} (outputs: {', '.join(result.values)})"
        try:
            expected = _value(text, inputs, names)
        except (FeelSyntaxError, FeelError, RecursionError) as err:
            return f"expected value of {name!r} cannot be read: {err}"
        actual = result.values[name]
        if not equal(actual, expected):
            wrong.append(f"expected {name} = {to_text(expected)}, got {to_text(actual)}")
    if not wrong:
        return None
    matched = ", ".join(f"{r.number} ({r.id})" for r in result.matched_rules) or "none"
    return "; ".join(wrong) + f" (matched rules: {matched})"


def _value(text: str, variables: dict[str, Any], names: frozenset[str]) -> Any:
    return compile_expression(text, names).evaluate(variables)
