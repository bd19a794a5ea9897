"""How an input meets a unary test: comparison orders, a value test (DMN 1.3, 10.3.2.9), a set lookup for a list of
literals, and three-valued "any of"."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.dmn.feel import nodes as n
from engine.dmn.feel.scope import Scope, Test
from engine.dmn.feel.state import spend
from engine.dmn.feel.values import Range, equal, in_range

ORDER: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def invert(result: bool | None) -> bool | None:
    """`not(...)` of a test result: unknown stays unknown."""
    return None if result is None else not result


def literal_constant(node: n.Node | None) -> tuple[bool, Any]:
    """(True, value) for a literal number or string, else (False, None)."""
    if isinstance(node, n.Literal) and isinstance(node.value, Decimal | str) and not isinstance(node.value, bool):
        return True, node.value
    return False, None


def matches_value(given: Any, value: Any) -> bool | None:
    """Whether an input passes an expression test whose value is `value` (DMN 1.3, 10.3.2.9)."""
    if isinstance(value, Range):
        return in_range(given, value)
    if isinstance(value, bool) and given is not None and not isinstance(given, bool):
        return value
    if isinstance(value, list):
        spend(len(value))  # a test against a long list, in a loop, is work the deadline counts
        if isinstance(given, list) and equal(given, value):
            return True
        return any(matches_value(given, v) is True if isinstance(v, Range) else equal(given, v) for v in value)
    return equal(given, value)


def one_of_literals(node: n.Tests) -> Test | None:
    """`"EU","US","APAC"`: a set lookup when every test is a string or number literal."""
    values = [c[1] for t in node.tests if isinstance(t, n.ExprTest) and (c := literal_constant(t.expr))[0]]
    if len(values) != len(node.tests) or len({type(v) for v in values}) != 1:
        return None
    kind, members = type(values[0]), frozenset(values)

    def run(s: Scope) -> bool | None:
        value = s.input
        if type(value) is kind:
            return value in members
        return any(equal(value, v) for v in values)

    return run


def any_of(tests: list[Test]) -> Test:
    """One test of several: true if any is true, else unknown if any is unknown, else false."""
    if len(tests) == 1:
        return tests[0]

    def run(s: Scope) -> bool | None:
        unknown = False
        for test in tests:
            result = test(s)
            if result is True:
                return True
            if result is None:
                unknown = True
        return None if unknown else False

    return run
