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
from engine.dmn.feel.state import EvalState
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
    """A FEEL expression ready to run; `free_names` are the variables it reads."""

    source: str
    fn: Fn
    free_names: frozenset[str]

    def evaluate(self, variables: Mapping[str, Any], state: EvalState | None = None) -> Any:
        """The FEEL value of the expression over Python `variables`; raises FeelError."""
        return self.fn(RootScope(variables, state or EvalState()))


@dataclass(frozen=True)
class CompiledTests:
    """An input entry (unary tests) ready to run against an input value."""

    source: str
    fn: Test
    free_names: frozenset[str]

    def matches(self, value: Any, variables: Mapping[str, Any], state: EvalState | None = None) -> bool:
        """Whether the Python `value` passes; raises FeelError."""
        root = RootScope(variables, state or EvalState())
        return self.fn(root.with_input(from_python(value))) is True


def compile_expression(
    source: str, names: frozenset[str] = frozenset(), allow_input: bool = False
) -> CompiledExpression:
    """Parse and compile an expression; raises FeelSyntaxError naming the position."""
    try:
        tree = parse_input_expression(source, names) if allow_input else parse_expression(source, names)
        env = Env(source)
        return CompiledExpression(source, compile_node(tree, env), frozenset(env.free))
    except RecursionError as err:
        raise FeelSyntaxError("expression is nested too deeply", source, 0) from err


def compile_unary_tests(source: str, names: frozenset[str] = frozenset()) -> CompiledTests:
    """Parse and compile an input entry; raises FeelSyntaxError naming the position."""
    try:
        env = Env(source)
        return CompiledTests(source, compile_test(parse_unary_tests(source, names), env), frozenset(env.free))
    except RecursionError as err:
        raise FeelSyntaxError("expression is nested too deeply", source, 0) from err
