"""A decision model compiled into closures, ready to evaluate many times.

`compile_model` parses every cell once (FEEL through engine.dmn.feel; Python cells become
calls of the injected sandbox) and reports every cell that cannot work, each named by its
decision, rule and column. Input entries that accept anything (`-`) are dropped, so a rule
is only as expensive as its real conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.dmn.errors import CellError, ModelInvalid
from engine.dmn.feel import FeelError, FeelSyntaxError, compile_expression, compile_unary_tests, from_python
from engine.dmn.feel.compiler import Env, compile_test
from engine.dmn.feel.nodes import Tests
from engine.dmn.feel.parser import parse_unary_tests
from engine.dmn.feel.scope import RootScope, Scope
from engine.dmn.feel.state import EvalState
from engine.dmn.model import PYTHON, Cell, Decision, DecisionModel, DecisionTable, LiteralExpression, OutputClause
from engine.dmn.python_cells import INPUT_NAME, PythonCheck, PythonRunner, check_test, is_any, test_source, to_native

Value = Callable[["Frame"], Any]
CellTest = Callable[[Scope], "bool | None"]  # tests `scope.input`
Rank = Callable[["Frame", Any], int]


class Frame:
    """One evaluation: the caller's variables, results of decisions so far, the sandbox."""

    __slots__ = ("root", "variables", "state", "runner", "bound")

    def __init__(self, variables: Mapping[str, Any], state: EvalState, runner: PythonRunner | None) -> None:
        self.root = RootScope(variables, state)
        state.host = self
        self.variables = variables
        self.state = state
        self.runner = runner
        self.bound: dict[str, Any] = {}

    def bind(self, name: str, value: Any) -> None:
        """Make a FEEL value (a required decision's result) visible to later decisions."""
        self.root.bind(name, value)
        self.bound[name] = value

    def python(self, source: str, extra: Mapping[str, Any] | None = None) -> Any:
        """Evaluate a Python cell in the sandbox; raises what the sandbox raises."""
        if self.runner is None:
            raise FeelError("this decision has Python cells, but no Python sandbox is configured")
        context = dict(self.variables)
        context.update({k: to_native(v) for k, v in self.bound.items()})
        if extra:
            context.update(extra)
        try:
            return self.runner.evaluate(source, context)
        except Exception as err:  # noqa: BLE001 - whatever the Python cell raised is the cell's error
            raise FeelError(f"{type(err).__name__}: {err}") from err


@dataclass(frozen=True)
class CompiledRule:
    number: int
    id: str
    description: str
    tests: tuple[tuple[int, CellTest], ...]  # (input column, test); `-` columns are left out
    outputs: tuple[Value, ...]


@dataclass(frozen=True)
class CompiledTable:
    table: DecisionTable
    inputs: tuple[Value, ...]
    allowed: tuple[CellTest | None, ...]
    rules: tuple[CompiledRule, ...]
    defaults: tuple[Value | None, ...]
    ranks: tuple[Rank | None, ...]


@dataclass(frozen=True)
class CompiledLiteral:
    literal: LiteralExpression
    value: Value
    reads: frozenset[str] = frozenset()  # the variables its FEEL text reads


@dataclass(frozen=True)
class CompiledDecision:
    decision: Decision
    logic: CompiledTable | CompiledLiteral


@dataclass(frozen=True)
class CompiledModel:
    model: DecisionModel
    decisions: tuple[CompiledDecision, ...]
    reads: frozenset[str] = frozenset()  # every variable name its FEEL cells read


def compile_model(
    model: DecisionModel, python_check: PythonCheck | None = None, names: frozenset[str] | None = None
) -> CompiledModel:
    """Compile every decision of the model; raises ModelInvalid naming every cell that cannot work."""
    errors: list[CellError] = []
    compiler = _Compiler(model.names() if names is None else names, python_check, errors)
    decisions = tuple(compiler.decision(d) for d in model.decisions)
    if errors:
        raise ModelInvalid(errors)
    return CompiledModel(model, decisions, frozenset(compiler.all_reads))


class _Compiler:
    """Compiles cells, collecting errors instead of stopping at the first."""

    def __init__(self, names: frozenset[str], check: PythonCheck | None, errors: list[CellError]) -> None:
        self.names = names
        self.check = check
        self.errors = errors
        self.decision_id = ""
        self.reads: frozenset[str] = frozenset()
        self.all_reads: set[str] = set()

    def decision(self, decision: Decision) -> CompiledDecision:
        """Compile one decision's cells; problems go to `self.errors`."""
        self.decision_id = decision.id
        logic = decision.logic
        if isinstance(logic, LiteralExpression):
            value = self.value(logic.expression, "literal expression")
            return CompiledDecision(decision, CompiledLiteral(logic, value, self.reads))
        return CompiledDecision(decision, self.table(logic))

    def fail(self, cell: Cell, where: str, reason: str) -> None:
        self.errors.append(CellError(self.decision_id, where, cell, reason))

    def table(self, table: DecisionTable) -> CompiledTable:
        inputs = tuple(self.value(i.expression, f"input {i.title!r}") for i in table.inputs)
        allowed = tuple(
            self.test(i.allowed, f"input {i.title!r} (allowed values)") if i.allowed else None for i in table.inputs
        )
        defaults = tuple(
            self.value(o.default, f"output {o.name!r} (default)") if o.default else None for o in table.outputs
        )
        ranks = tuple(self.rank(o) for o in table.outputs)
        rules = tuple(self.rule(table, r) for r in table.rules)
        return CompiledTable(table, inputs, allowed, rules, defaults, ranks)

    def rule(self, table: DecisionTable, rule: Any) -> CompiledRule:
        where = f"rule {rule.number} ({rule.id})"
        tests = []
        for index, (clause, cell) in enumerate(zip(table.inputs, rule.inputs, strict=True)):
            test = self.test(cell, f"{where}, input {clause.title!r}")
            if test is not None:
                tests.append((index, test))
        outputs = tuple(
            self.value(cell, f"{where}, output {clause.name!r}")
            for clause, cell in zip(table.outputs, rule.outputs, strict=True)
        )
        return CompiledRule(rule.number, rule.id, rule.description, tuple(tests), outputs)

    def value(self, cell: Cell, where: str) -> Value:
        """A closure computing an expression cell (an empty cell is null)."""
        text = cell.text
        if not text.strip():
            return lambda f: None
        if cell.language == PYTHON:
            if self.check is not None and (reason := self.check(text.strip())):
                self.fail(cell, where, reason)
            source = text.strip()
            return lambda f: from_python(f.python(source))
        try:
            compiled = compile_expression(text, self.names)
        except FeelSyntaxError as err:
            self.fail(cell, where, str(err))
            return lambda f: None
        fn, self.reads = compiled.fn, compiled.free_names
        self.all_reads.update(compiled.free_names)
        return lambda f: fn(f.root)

    def test(self, cell: Cell, where: str) -> CellTest | None:
        """A closure testing `scope.input` against an input entry; None for `-`."""
        if is_any(cell.text):
            return None
        if cell.language == PYTHON:
            if self.check is not None and (reason := check_test(cell.text, self.check)):
                self.fail(cell, where, reason)
            source = test_source(cell.text)
            return lambda s: bool(s.state.host.python(source, {INPUT_NAME: to_native(s.input)}))
        try:
            compiled = compile_unary_tests(cell.text, self.names)
        except FeelSyntaxError as err:
            self.fail(cell, where, str(err))
            return lambda s: False
        self.all_reads.update(compiled.free_names)
        return compiled.fn

    def rank(self, output: OutputClause) -> Rank | None:
        """Position of a value in the output's list of values (priority order), or None without a list."""
        if output.allowed is None:
            return None
        try:
            tree = parse_unary_tests(output.allowed.text, self.names)
            parts = tree.tests if isinstance(tree, Tests) else (tree,)
            tests = [compile_test(t, Env(output.allowed.text)) for t in parts]
        except (FeelSyntaxError, RecursionError) as err:
            self.fail(output.allowed, f"output {output.name!r} (output values)", str(err))
            return None

        def rank(frame: Frame, value: Any) -> int:
            scope = frame.root.with_input(value)
            return next((i for i, t in enumerate(tests) if t(scope) is True), len(tests))

        return rank
