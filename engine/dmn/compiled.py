"""A decision model compiled into closures, and the frame those closures evaluate in.

`engine.dmn.compiler.compile_model` builds a `CompiledModel`: a decision table becomes a
`CompiledTable` (its input expressions, the tests of each rule, output values and priority
ranks), a literal expression a `CompiledLiteral`, any other boxed expression a `CompiledBoxed`,
and business knowledge models and decision services `CompiledKnowledge` (their FEEL functions,
built in a frame). Closures evaluate over a `Frame` whose `root` is the scope of the moment (a
context's entries, a function's parameters, an iterator's variable). Decision tables nested in
boxed expressions are run by the evaluator the frame carries (`Frame.hooks`, set by
engine.dmn.evaluate), which the compiler cannot import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.dmn.expressions import DecisionTable, Expression, LiteralExpression
from engine.dmn.feel import FeelError, from_python
from engine.dmn.feel.scope import RootScope, Scope
from engine.dmn.feel.state import EvalState
from engine.dmn.feel.values import Function
from engine.dmn.model import Decision, DecisionModel
from engine.dmn.python_cells import PythonRunner, to_native
from engine.dmn.types import Types

Value = Callable[["Frame"], Any]
CellTest = Callable[[Scope], "bool | None"]  # tests `scope.input`
Rank = Callable[["Frame", Any], int]


_NO_TYPES = Types(())


class Hooks(Protocol):
    """What the evaluator (engine.dmn.evaluate) lends compiled closures: running a nested table, decisions."""

    def table(self, frame: Frame, owner: Decision, table: CompiledTable) -> Any: ...

    def decisions(self, frame: Frame, model: CompiledModel, plan: tuple[int, ...]) -> None: ...


class Frame:
    """One evaluation: the caller's variables, results of decisions so far, the sandbox; `root` is the scope
    expressions evaluate in (the top scope, or a nested one: see `at`)."""

    __slots__ = ("root", "top", "variables", "state", "runner", "bound", "hooks", "namespaces", "types", "aliases")

    def __init__(
        self,
        variables: Mapping[str, Any],
        state: EvalState,
        runner: PythonRunner | None,
        hooks: Hooks | None = None,
        types: Types | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.top = RootScope(variables, state)
        self.root: Scope = self.top
        state.host = self
        self.variables = variables
        self.state = state
        self.runner = runner
        self.bound: dict[str, Any] = {}
        self.hooks = hooks
        self.namespaces: dict[str, dict[str, Any]] = {}  # import name -> its elements' values
        self.types = types or _NO_TYPES
        self.aliases = aliases or {}

    def bind(self, name: str, value: Any, prefix: str = "") -> None:
        """Make a FEEL value (a required decision's result, a BKM) visible to later decisions; an imported
        element's inside the context of its import name."""
        if prefix:
            self.namespace(prefix)[name] = value
            return
        self.top.bind(name, value)
        self.bound[name] = value

    def namespace(self, prefix: str) -> dict[str, Any]:
        """The context holding the elements of import `prefix` (`a.b`: `b` imported by `a`), bound under its
        name; imported input data arrive as contexts under the import names (`{"a": {"b": {"x": 1}}}`)."""
        found = self.namespaces.get(prefix)
        if found is None:
            head, _, last = prefix.rpartition(".")
            parent = self.namespace(head) if head else None
            same = self.aliases.get(prefix)
            if same is not None:  # a file imported through two paths: one set of elements
                found = self.namespace(same)
            else:
                given = self.variables.get(last) if parent is None else parent.get(last)
                found = {}
                if isinstance(given, Mapping):
                    found.update(from_python(dict(given)) if parent is None else given)
            if parent is None:
                self.top.bind(last, found)
            else:
                parent[last] = found
            self.namespaces[prefix] = found
        return found

    def scope_of(self, prefix: str) -> Frame:
        """Where an element of import `prefix` evaluates: its file's names unqualified, over the top scope."""
        return self if not prefix else self.at(self.top.child(self.namespace(prefix)))

    def at(self, scope: Scope) -> Frame:
        """The same evaluation with expressions evaluated in `scope`."""
        inner = Frame.__new__(Frame)
        inner.root, inner.top, inner.variables, inner.state = scope, self.top, self.variables, self.state
        inner.runner, inner.bound, inner.hooks, inner.namespaces = self.runner, self.bound, self.hooks, self.namespaces
        inner.types, inner.aliases = self.types, self.aliases
        return inner

    def python(self, source: str, extra: Mapping[str, Any] | None = None) -> Any:
        """Evaluate a Python cell in the sandbox; raises what the sandbox raises."""
        if self.runner is None:
            raise FeelError("this decision has Python cells, but no Python sandbox is configured")
        self.state.check_clock()  # each cell has the sandbox's own time limit; the decision has its deadline
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
class CompiledBoxed:
    """A decision whose logic is a boxed expression (or a decision service called as a decision)."""

    expression: Expression
    value: Value


@dataclass(frozen=True)
class CompiledDecision:
    decision: Decision
    logic: CompiledTable | CompiledLiteral | CompiledBoxed


@dataclass(frozen=True)
class CompiledKnowledge:
    """A BKM or a decision service: `make` builds its FEEL function in a frame."""

    id: str
    name: str
    prefix: str
    make: Callable[[Frame], Function]


@dataclass(frozen=True)
class CompiledModel:
    model: DecisionModel
    decisions: tuple[CompiledDecision, ...]
    reads: frozenset[str] = frozenset()  # every variable name its FEEL cells read
    plan: tuple[int, ...] = ()  # the decisions evaluated for the top one (indexes into `decisions`), in order
    knowledge: tuple[CompiledKnowledge, ...] = ()
    types: Types = field(default_factory=lambda: Types(()))
    inputs: tuple[tuple[str, str, str], ...] = ()  # (name, prefix, typeRef) of the typed input data
    aliases: dict[str, str] = field(default_factory=dict)  # import paths of a file imported twice -> the first
    calls: frozenset[str] = frozenset()  # every function its FEEL cells call that is neither built-in nor bound


def evaluation_order(decisions: tuple[Decision, ...], targets: list[str], given: tuple[str, ...]) -> tuple[int, ...]:
    """Indexes of the decisions `targets` need (themselves included, `given` ones left out), dependencies first."""
    index = {d.id: i for i, d in enumerate(decisions)}
    order: list[int] = []

    def visit(did: str) -> None:
        i = index.get(did)
        if i is None or i in order or did in given:
            return
        for ref in decisions[i].required_decisions:
            visit(ref)
        order.append(i)

    for target in targets:
        visit(target)
    return tuple(order)
