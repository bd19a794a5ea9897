"""Compiling cells and decision tables: each FEEL or Python cell becomes a closure, once.

FEEL cells are parsed through engine.dmn.feel; Python cells become calls of the injected
sandbox. Every cell that cannot work is collected (never the first only), named by its
decision, rule and column. Input entries that accept anything (`-`) are dropped, so a rule is
only as expensive as its real conditions. engine.dmn.compiler builds on this for boxed
expressions, BKMs and decision services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.dmn.compiled import CellTest, CompiledRule, CompiledTable, Frame, Rank, Value
from engine.dmn.errors import CellError
from engine.dmn.expressions import PYTHON, Cell, DecisionTable, OutputClause
from engine.dmn.feel import FeelSyntaxError, compile_expression, compile_unary_tests, from_python
from engine.dmn.feel.compiler import Env, compile_test
from engine.dmn.feel.nodes import Tests
from engine.dmn.feel.parser import parse_unary_tests
from engine.dmn.model import Decision
from engine.dmn.python_cells import INPUT_NAME, PythonCheck, check_test, is_any, test_source, to_native
from engine.dmn.types import Types


class CellCompiler:
    """Compiles cells and tables, collecting errors instead of stopping at the first."""

    def __init__(
        self,
        names: frozenset[str],
        check: PythonCheck | None,
        errors: list[CellError],
        types: Types | None = None,
        callables: frozenset[str] = frozenset(),
    ) -> None:
        self.names = names
        self.check = check
        self.errors = errors
        self.decision_id = ""
        self.reads: frozenset[str] = frozenset()
        self.all_reads: set[str] = set()
        self.all_calls: set[str] = set()
        self.types = types or Types(())
        self.bound = callables  # names FEEL may call as functions (BKMs, services, context entries, parameters)
        self.owner: Decision | None = None

    @contextmanager
    def scoped(self, names: list[str]) -> Iterator[None]:
        """Names a nested expression may use (context entries, parameters, an iterator variable)."""
        saved = self.names, self.bound
        self.names, self.bound = self.names | set(names), self.bound | set(names)
        try:
            yield
        finally:
            self.names, self.bound = saved

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
            compiled = compile_expression(text, self.names, bound=self.bound)
        except FeelSyntaxError as err:
            self.fail(cell, where, str(err))
            return lambda f: None
        fn, self.reads = compiled.fn, compiled.free_names
        self.all_reads.update(compiled.free_names)
        self.all_calls.update(compiled.calls)
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
        self.all_calls.update(compiled.calls)
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
