"""Hostile FEEL and decision tables: each one ends as a DecisionError within the time limit plus a margin.

Every payload here ran for minutes, took gigabytes or held the GIL before evaluations had a deadline,
an allocation budget and sized results (see engine/dmn/README.md, "Limits"). The margin is generous
because the machine running the tests may be busy; without the bounds these run far past it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from engine.dmn.compiler import compile_model
from engine.dmn.errors import DecisionError
from engine.dmn.evaluate import evaluate
from engine.dmn.feel import FeelSyntaxError, compile_expression

from .samples import dmn, literal, models, table

LIMIT = 1.0  # seconds: the evaluations' time limit here
MARGIN = 9.0  # generous: a busy machine; unbounded, these run for minutes

BACKTRACK = "a" * 50_000 + "!"
FIB = "{fib: function(n) if n < 2 then n else fib(n - 1) + fib(n - 2), r: fib(32)}.r"
SHARED = (  # a list holding the same list a thousand times over, three levels deep: 10**9 items, 3,000 steps
    "{a: for i in 1..1000 return {x: 1}, b: for i in 1..1000 return a, c: for i in 1..1000 return b, r: %s}.r"
)
EMPTY = "{a: for i in 1..1000 return [], b: for i in 1..1000 return a, c: for i in 1..1000 return b, r: %s}.r"
HALF_MILLION = [0] * 500_000  # one list, read under forty names: each is converted on its own
BIG_TEXT = 'string join(for i in 1..99999 return "xxxxxxxxxx", "")'  # 999,990 characters

# (id, FEEL text of a literal decision, variables, what the error says)
LITERALS: list[tuple[str, str, dict[str, Any], str]] = [
    ("regex-alternation", 'matches(s, "^(a|aa)+$")', {"s": BACKTRACK}, "time limit"),
    ("regex-nested-plus", 'matches(s, "(x+x+)+y")', {"s": "x" * 5000}, "time limit"),
    ("regex-words", 'matches(s, "(\\\\w+\\\\s?)*$")', {"s": "a " * 5000 + "!"}, "time limit"),
    ("regex-replace", 'replace(s, "(a|aa)+$", "b")', {"s": BACKTRACK}, "time limit"),
    ("regex-split", 'split(s, "(a|aa)+!")', {"s": "a" * 50_000}, "time limit"),
    ("regex-compile-blowup", 'matches("a", "((a{1000}){1000}){1000}")', {}, "multiply to at most"),
    ("replace-big-replacement", 'replace(s, "", r)', {"s": "x" * 100_000, "r": "y" * 1000}, "longer than"),
    ("recursion-exponential", FIB, {}, "stopped"),
    ("shared-string", SHARED % "string(c)", {}, "longer than|time limit"),
    ("shared-result", SHARED % "c", {}, "too large|time limit"),
    ("shared-equality", SHARED % "c = c", {}, "too large|time limit"),
    ("shared-path", SHARED % "count(c.x)", {}, "list items|time limit"),
    ("shared-flatten", EMPTY % "count(flatten(c))", {}, "time limit"),
    ("distinct-quadratic", "count(distinct values(for i in 1..100000 return i))", {}, "time limit"),
    ("union-quadratic", "count(union(for i in 1..50000 return i, for i in 1..50000 return -i))", {}, "time limit"),
    (
        "concat-allocation",
        f"{{a: {BIG_TEXT}, r: count(for i in 1..100000 return a + string(i))}}.r",
        {},
        "list items|time limit",
    ),
    (
        "list-allocation",
        "{a: for i in 1..100000 return i, r: count(for i in 1..1000 return concatenate(a))}.r",
        {},
        "list items|time limit",
    ),
    ("nested-for", "count(for a in 1..100000, b in 1..100000 return 0)", {}, "100,000 items|stopped"),
    (
        "sort-custom",
        "count(sort(for i in 1..100000 return modulo(i * 7919, 100003), function(a, b) a < b))",
        {},
        "stopped",
    ),
    ("power-overflow", "{n: number(s), r: n ** n}.r", {"s": "9" * 100_000}, "too large"),
    ("date-overflow", 'date("999999999-12-31") + duration("P1D")', {}, "out of range"),
    ("input-shared-references", "count(x)", {"x": [[0] * 1000] * 30_000}, "too large|time limit"),
    ("input-huge-integer", "x + 1", {"x": 10**200_000}, "too large"),
    (
        "input-many-big-lists",
        f"sum(for v in [{', '.join(f'x{i}' for i in range(40))}] return count(v))",
        {f"x{i}": HALF_MILLION for i in range(40)},
        "list items|time limit",
    ),
    ("number-digits", "number(s) + 1", {"s": "9" * 10_000}, "too large"),
    (
        "list-test-in-loop",
        "count(for i in 1..100000 return i in l)",
        {"l": list(range(100_000))},
        "steps|time limit|list items",
    ),
]


def _evaluate_decision(text: str, variables: dict[str, Any]) -> DecisionError:
    model = next(iter(models(text).values()))
    compiled = compile_model(model)
    began = time.monotonic()
    with pytest.raises(DecisionError) as info:
        evaluate(compiled, variables, time_limit=LIMIT)
    elapsed = time.monotonic() - began
    assert elapsed < LIMIT + MARGIN, f"took {elapsed:.1f} s"
    return info.value


@pytest.mark.parametrize(("text", "variables", "says"), [p[1:] for p in LITERALS], ids=[p[0] for p in LITERALS])
def test_hostile_expressions_end_as_decision_errors_within_the_limit(text, variables, says):
    error = _evaluate_decision(dmn(literal("d", text)), variables)
    assert any(part in error.message for part in says.split("|")), error.message
    assert error.decision == "d"


def test_many_rules_with_costly_cells_stop_at_the_deadline_naming_the_rule():
    cell = "{f: function(n) if n < 2 then n else f(n - 1) + f(n - 2), r: f(22)}.r > ?"  # 57,000 calls a cell
    rules = [([cell], [f'"r{r}"']) for r in range(300)]
    error = _evaluate_decision(dmn(table("t", ["x"], ["out"], rules, hit_policy="COLLECT")), {"x": 10**6})
    assert "stopped" in error.message and error.rule_number is not None


def test_many_rules_of_loop_free_cells_are_checked_against_the_clock_between_rules():
    rules = [(["upper case(s) = ?"], [f"{r}"]) for r in range(2000)]  # a millisecond a rule, no loop in sight
    text = dmn(table("t", ["x"], ["out"], rules, hit_policy="COLLECT"))
    error = _evaluate_decision(text, {"x": "X", "s": "x" * 999_000})
    assert "time limit" in error.message or "list items" in error.message
    assert error.rule_number is not None and error.rule_number > 1


def test_collect_sum_of_big_outputs_is_refused():
    rules = [(["-"], ["s"]) for _ in range(2000)]
    text = dmn(table("t", ["x"], ["out"], rules, hit_policy="COLLECT", aggregation="SUM"))
    error = _evaluate_decision(text, {"x": 1, "s": "x" * 600_000})
    assert "longer than" in error.message


def test_deep_nesting_is_a_syntax_error_not_a_crash():
    with pytest.raises(FeelSyntaxError, match="nested"):
        compile_expression("[" * 3000 + "]" * 3000)


def test_a_regular_expression_lets_other_threads_run_while_it_backtracks():
    expression = compile_expression('matches(s, "^(a|aa)+$")')
    done = threading.Event()
    counted = [0]

    def other() -> None:
        while not done.is_set():
            counted[0] += 1
            time.sleep(0.001)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        with pytest.raises(Exception, match="time limit"):
            from engine.dmn.feel import EvalState

            expression.evaluate({"s": BACKTRACK}, EvalState(time_limit=LIMIT))
    finally:
        done.set()
        thread.join()
    assert counted[0] > 20  # a held GIL would leave the other thread at one or two rounds


def test_a_match_still_running_at_the_deadline_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """`regex`'s own timeout counts CPU time, so on a busy machine it fired seconds after the deadline (6 s for a
    1 s limit). A match that outlasts the deadline, whatever its timeout does, ends the evaluation at once."""
    from engine.dmn.feel import EvalState
    from engine.dmn.feel.functions import text

    running, release = threading.Event(), threading.Event()

    class Stubborn:  # a pattern that needs more than the first short try, and whose timeout then fires late
        def search(self, value: str, timeout: float, concurrent: bool) -> None:
            if timeout <= text.INLINE_CPU:
                raise TimeoutError("regex timed out")
            running.set()
            release.wait(30)

    monkeypatch.setattr(text, "_regex", lambda *args: Stubborn())
    try:
        with pytest.raises(Exception, match="matches\\(\\): stopped after the time limit"):
            compile_expression('matches(s, "x")').evaluate({"s": "x"}, EvalState(time_limit=0.2))
        assert running.is_set() and not release.is_set()  # ended while the match still ran
    finally:
        release.set()


def test_ordinary_expressions_still_work_under_the_bounds():
    assert evaluate(
        compile_model(next(iter(models(dmn(literal("d", "count(for i in 1..50000 return i)"))).values()))), {}
    ).outputs == {"d": 50000}


BKM_FIB = (
    '<businessKnowledgeModel id="fib" name="fib"><variable name="fib"/><encapsulatedLogic>'
    '<formalParameter name="n"/><conditional><if><literalExpression><text>n &lt; 2</text></literalExpression></if>'
    "<then><literalExpression><text>n</text></literalExpression></then>"
    "<else><literalExpression><text>fib(n - 1) + fib(n - 2)</text></literalExpression></else></conditional>"
    "</encapsulatedLogic></businessKnowledgeModel>"
)
BKM_FOREVER = (
    '<businessKnowledgeModel id="down" name="down"><variable name="down"/><encapsulatedLogic>'
    '<formalParameter name="n"/><context><contextEntry><variable name="next"/>'
    "<literalExpression><text>down(n + 1)</text></literalExpression></contextEntry>"
    "<contextEntry><literalExpression><text>next</text></literalExpression></contextEntry></context>"
    "</encapsulatedLogic></businessKnowledgeModel>"
)
NESTED_FOR = (
    '<for iteratorVariable="a"><in><literalExpression><text>for i in 1..100000 return i</text></literalExpression>'
    '</in><return><for iteratorVariable="b"><in><literalExpression><text>for i in 1..100000 return i'
    "</text></literalExpression></in><return><literalExpression><text>a * b</text></literalExpression></return>"
    "</for></return></for>"
)


def _boxed(logic: str, extra: str = "") -> str:
    return dmn(extra + f'<decision id="d" name="d"><variable name="d"/>{logic}</decision>')


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (_boxed("<literalExpression><text>fib(40)</text></literalExpression>", BKM_FIB), "stopped"),
        (_boxed("<literalExpression><text>down(1)</text></literalExpression>", BKM_FOREVER), "levels deep"),
        (_boxed(NESTED_FOR), "stopped|time limit|100,000 items"),
    ],
    ids=["bkm-exponential-recursion", "bkm-endless-recursion", "boxed-nested-for"],
)
def test_hostile_boxed_expressions_and_bkms_end_within_the_limit(text, says):
    error = _evaluate_decision(text, {})
    assert any(part in error.message for part in says.split("|")), error.message
    assert error.decision == "d"
