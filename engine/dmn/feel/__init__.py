"""FEEL (Friendly Enough Expression Language, DMN 1.3 chapter 10): parse, compile, evaluate.

    compiled = compile_expression('if budget > 100000 then "high" else "low"')
    compiled.evaluate({"budget": 120000})          # -> "high"
    compile_unary_tests("[50000..250000]").matches(120000, {})   # -> True

See engine/dmn/README.md for the grammar, the semantics chosen and what is not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.dmn.feel.compiler import Env, compile_node, compile_test
from engine.dmn.feel.errors import FeelError, FeelSyntaxError
from engine.dmn.feel.parser import parse_expression, parse_input_expression, parse_unary_tests
from engine.dmn.feel.scope import Fn, RootScope, Scope, Test
from engine.dmn.feel.state import RUNNING, EvalState, enter, leave
from engine.dmn.feel.values import from_python, to_python

__all__ = [
    "CompiledExpression",
    "CompiledTests",
    "EvalState",
    "FeelError",
    "FeelSyntaxError",
    "RootScope",
    "Scope",
    "compile_expression",
    "compile_unary_tests",
    "from_python",
    "to_python",
]


@dataclass(frozen=True)
class CompiledExpression:
    """A FEEL expression ready to run; `free_names` are the variables it reads, `calls` the functions it calls
    that are not built-in (a business knowledge model, or a name nothing defines: null at run time)."""

    source: str
    fn: Fn
    free_names: frozenset[str]
    calls: frozenset[str] = frozenset()

    def evaluate(self, variables: Mapping[str, Any], state: EvalState | None = None) -> Any:
        """The FEEL value of the expression over Python `variables`; raises FeelError."""
        state = state or EvalState()
        previous = getattr(RUNNING, "state", None)
        RUNNING.state = state  # what `state.spend` reaches from code that is not handed the state
        try:
            return self.fn(RootScope(variables, state))
        finally:
            RUNNING.state = previous


@dataclass(frozen=True)
class CompiledTests:
    """An input entry (unary tests) ready to run against an input value."""

    source: str
    fn: Test
    free_names: frozenset[str]
    calls: frozenset[str] = frozenset()

    def matches(self, value: Any, variables: Mapping[str, Any], state: EvalState | None = None) -> bool:
        """Whether the Python `value` passes; raises FeelError."""
        state = state or EvalState()
        previous = enter(state)
        try:
            return self.fn(RootScope(variables, state).with_input(from_python(value))) is True
        finally:
            leave(previous)


def compile_expression(
    source: str, names: frozenset[str] = frozenset(), allow_input: bool = False, bound: frozenset[str] = frozenset()
) -> CompiledExpression:
    """Parse and compile an expression; raises FeelSyntaxError naming the position. `bound` names are defined
    around the text (business knowledge models, context entries, parameters): calling one calls its value."""
    try:
        tree = parse_input_expression(source, names) if allow_input else parse_expression(source, names)
        env = Env(source, bound)
        fn = compile_node(tree, env)
        return CompiledExpression(source, fn, frozenset(env.free), frozenset(env.calls))
    except RecursionError as err:
        raise FeelSyntaxError("expression is nested too deeply", source, 0) from err


def compile_unary_tests(source: str, names: frozenset[str] = frozenset()) -> CompiledTests:
    """Parse and compile an input entry; raises FeelSyntaxError naming the position."""
    try:
        env = Env(source)
        fn = compile_test(parse_unary_tests(source, names), env)
        return CompiledTests(source, fn, frozenset(env.free), frozenset(env.calls))
    except RecursionError as err:
        raise FeelSyntaxError("expression is nested too deeply", source, 0) from err
