"""Running a decision's test table: every row's inputs in, every expected output compared.

Input values and expected outputs are FEEL expressions (`120000`, `"standard"`,
`date("2026-01-01")`, `[1, 2]`, `null`); an expected value may use the row's inputs.
Outputs are compared with FEEL's `=`. A row fails when an output differs, when the
decision raises an error, or when it names an output the decision does not have.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.dmn.compiled import CompiledModel
from engine.dmn.errors import DecisionError
from engine.dmn.evaluate import evaluate
from engine.dmn.feel import FeelError, FeelSyntaxError, compile_expression
from engine.dmn.feel.state import DEFAULT_TIME_LIMIT, EvalState
from engine.dmn.feel.values import equal, to_text
from engine.dmn.model import TestCase
from engine.dmn.python_cells import PythonRunner, to_native

WALL_FACTOR = 4  # a table may take this many times its time limit in elapsed time (a busy machine, Python cells)
_cpu = time.thread_time  # the table's budget: CPU time of this thread, which other processes' load does not use
_wall = time.monotonic


@dataclass(frozen=True)
class TestFailure:
    """One test row that did not pass, and why."""

    decision: str
    test: TestCase
    reason: str

    def describe(self) -> str:
        return f"decision test {self.test.name!r} of decision {self.decision!r} failed: {self.reason}"


def run_tests(
    model: CompiledModel,
    *,
    python: PythonRunner | None = None,
    now: Callable[[], datetime] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> list[TestFailure]:
    """Run the test table of the model's decision, all of it within `time_limit` seconds of CPU time (and
    `WALL_FACTOR` times that in elapsed time); returns the failures (empty if all pass).

    Each row is an evaluation with the time limit of any evaluation. The table's shared budget counts the
    CPU time of this thread, so a valid model is not refused at deploy because the machine is busy (a
    table of a few rows takes a millisecond, but a stalled process can take seconds of elapsed time);
    the elapsed-time bound covers Python cells, whose work is done by the sandbox's processes."""
    top = model.model.top
    failures = []
    cpu_deadline = _cpu() + time_limit
    wall_deadline = _wall() + WALL_FACTOR * time_limit
    for test in top.tests:
        wall_left = wall_deadline - _wall()
        if wall_left <= 0 or _cpu() >= cpu_deadline:
            reason: str | None = f"the decision tests ran out of their time limit of {time_limit:g} s"
        else:
            reason = _run_one(model, test, python, now, min(time_limit, wall_left))
        if reason is not None:
            failures.append(TestFailure(top.id, test, reason))
    return failures


def _run_one(
    model: CompiledModel,
    test: TestCase,
    python: PythonRunner | None,
    now: Callable[[], datetime] | None,
    time_limit: float,
) -> str | None:
    names = model.model.names()
    try:
        inputs = {name: to_native(_value(text, {}, names, time_limit)) for name, text in test.inputs}
    except (FeelSyntaxError, FeelError, RecursionError) as err:
        return f"input value cannot be read: {err}"
    try:
        result = evaluate(model, inputs, now=now, python=python, time_limit=time_limit)
    except DecisionError as err:
        return f"the decision failed: {err}"
    wrong = []
    for name, text in test.expected:
        if name not in result.values:
            return f"the decision has no output {name!r} (outputs: {', '.join(result.values)})"
        try:
            expected = _value(text, inputs, names, time_limit)
        except (FeelSyntaxError, FeelError, RecursionError) as err:
            return f"expected value of {name!r} cannot be read: {err}"
        actual = result.values[name]
        try:
            same = equal(actual, expected)
        except FeelError as err:
            return f"{name} cannot be compared: {err}"
        if not same:
            wrong.append(f"expected {name} = {_text(expected)}, got {_text(actual)}")
    if not wrong:
        return None
    matched = ", ".join(f"{r.number} ({r.id})" for r in result.matched_rules) or "none"
    return "; ".join(wrong) + f" (matched rules: {matched})"


def _text(value: Any) -> str:
    try:
        return to_text(value, limit=200)
    except FeelError:
        return "(a value too large to show)"


def _value(text: str, variables: dict[str, Any], names: frozenset[str], time_limit: float) -> Any:
    return compile_expression(text, names).evaluate(variables, EvalState(time_limit=time_limit))
