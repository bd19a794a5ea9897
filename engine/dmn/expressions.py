"""Expressions as plain, frozen data: cells, decision tables, literal and boxed expressions.

A `Cell` is one piece of text (FEEL or Python) with the element it came from. An `Expression` is
whatever may stand for a decision's logic, a BKM's body or a part of a boxed expression: a
decision table, a literal expression, or a boxed context, invocation, list, relation, function
definition, conditional, filter or iterator, nested to any depth. They are stored inside a
`DecisionModel` (engine.dmn.model) and restored from its JSON here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

FEEL = "feel"
PYTHON = "python"
AUTO = "auto"  # no language declared: decided per decision by the reader
HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")


@dataclass(frozen=True)
class Cell:
    """One piece of text in a model, with the element it came from and its language."""

    text: str
    element_id: str | None = None
    language: str = FEEL


@dataclass(frozen=True)
class InputClause:
    id: str
    label: str
    expression: Cell
    type_ref: str | None = None
    allowed: Cell | None = None  # inputValues: unary tests every input value must pass

    @property
    def title(self) -> str:
        return self.label or self.expression.text or self.id


@dataclass(frozen=True)
class OutputClause:
    id: str
    label: str
    name: str
    type_ref: str | None = None
    allowed: Cell | None = None  # outputValues: the priority order for PRIORITY / OUTPUT ORDER
    default: Cell | None = None  # defaultOutputEntry: the value when no rule matches


@dataclass(frozen=True)
class Rule:
    id: str
    number: int
    description: str
    inputs: tuple[Cell, ...]
    outputs: tuple[Cell, ...]


@dataclass(frozen=True)
class DecisionTable:
    id: str
    hit_policy: str
    aggregation: str | None
    inputs: tuple[InputClause, ...]
    outputs: tuple[OutputClause, ...]
    rules: tuple[Rule, ...]
    require_match: bool = False  # pmoflow:requireMatch="true": no matching rule is an error

    @property
    def kind(self) -> str:
        return "table"


@dataclass(frozen=True)
class LiteralExpression:
    id: str
    expression: Cell
    type_ref: str | None = None

    @property
    def kind(self) -> str:
        return "literal"


@dataclass(frozen=True)
class ContextEntry:
    """A boxed context's entry; the entry without a name is the context's result."""

    name: str | None
    value: Expression
    type_ref: str | None = None


@dataclass(frozen=True)
class BoxedContext:
    id: str
    entries: tuple[ContextEntry, ...]
    type_ref: str | None = None
    kind: str = field(default="context", init=False)


@dataclass(frozen=True)
class Binding:
    name: str
    value: Expression | None  # None: the parameter is null


@dataclass(frozen=True)
class BoxedInvocation:
    """A call of a function (a business knowledge model, a decision service) by name with bound parameters."""

    id: str
    function: Cell  # FEEL text naming the function (`Fee BKM`, `imported.f`)
    bindings: tuple[Binding, ...]
    type_ref: str | None = None
    kind: str = field(default="invocation", init=False)


@dataclass(frozen=True)
class BoxedList:
    id: str
    items: tuple[Expression, ...]
    type_ref: str | None = None
    kind: str = field(default="list", init=False)


@dataclass(frozen=True)
class BoxedRelation:
    """A table of values: a list of contexts with the same keys."""

    id: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Expression, ...], ...]
    type_ref: str | None = None
    kind: str = field(default="relation", init=False)


@dataclass(frozen=True)
class Parameter:
    name: str
    type_ref: str | None = None


@dataclass(frozen=True)
class BoxedFunction:
    """A function definition (FEEL kind only: Java and PMML functions are refused when the model is read)."""

    id: str
    parameters: tuple[Parameter, ...]
    body: Expression | None
    type_ref: str | None = None
    kind: str = field(default="function", init=False)


@dataclass(frozen=True)
class BoxedConditional:
    id: str
    condition: Expression
    then: Expression
    otherwise: Expression
    type_ref: str | None = None
    kind: str = field(default="conditional", init=False)


@dataclass(frozen=True)
class BoxedFilter:
    id: str
    source: Expression
    match: Expression  # evaluated with `item` (and the entries of `item` when it is a context)
    type_ref: str | None = None
    kind: str = field(default="filter", init=False)


@dataclass(frozen=True)
class BoxedIterator:
    """`for` (a list of `body` values), `some` and `every` (whether `body` holds) over `source`."""

    id: str
    iterator: str  # "for", "some", "every"
    variable: str
    source: Expression
    body: Expression
    type_ref: str | None = None
    kind: str = field(default="iterator", init=False)


@dataclass(frozen=True)
class ServiceCall:
    """The logic of a decision service evaluated as a decision: its parameters are read from the variables."""

    id: str
    service: str  # the service's id
    outputs: tuple[str, ...] = ()  # the variable names of its output decisions
    type_ref: str | None = None
    kind: str = field(default="service", init=False)


Expression = (
    DecisionTable
    | LiteralExpression
    | BoxedContext
    | BoxedInvocation
    | BoxedList
    | BoxedRelation
    | BoxedFunction
    | BoxedConditional
    | BoxedFilter
    | BoxedIterator
    | ServiceCall
)


# ---------------------------------------------------------------- restoring from JSON


def cell_from_dict(data: dict[str, Any] | None) -> Cell | None:
    """A stored cell, or None; raises TypeError for a malformed one."""
    return None if data is None else Cell(**data)


def _required_cell(data: dict[str, Any]) -> Cell:
    return Cell(**data)


def _table(logic: dict[str, Any]) -> DecisionTable:
    return DecisionTable(
        id=logic["id"],
        hit_policy=logic["hit_policy"],
        aggregation=logic["aggregation"],
        inputs=tuple(
            InputClause(
                id=i["id"],
                label=i["label"],
                expression=_required_cell(i["expression"]),
                type_ref=i["type_ref"],
                allowed=cell_from_dict(i["allowed"]),
            )
            for i in logic["inputs"]
        ),
        outputs=tuple(
            OutputClause(
                id=o["id"],
                label=o["label"],
                name=o["name"],
                type_ref=o["type_ref"],
                allowed=cell_from_dict(o["allowed"]),
                default=cell_from_dict(o["default"]),
            )
            for o in logic["outputs"]
        ),
        rules=tuple(
            Rule(
                id=r["id"],
                number=r["number"],
                description=r["description"],
                inputs=tuple(Cell(**c) for c in r["inputs"]),
                outputs=tuple(Cell(**c) for c in r["outputs"]),
            )
            for r in logic["rules"]
        ),
        require_match=logic.get("require_match", False),
    )


def _maybe(data: dict[str, Any] | None) -> Expression | None:
    return None if data is None else expression_from_dict(data)


def expression_from_dict(data: dict[str, Any]) -> Expression:
    """A stored expression (tables and literals of the first format have no `kind` entry); raises KeyError or
    TypeError for a malformed one."""
    kind, eid, type_ref = data.get("kind"), data["id"], data.get("type_ref")
    if kind is None:
        if "rules" in data:
            return _table(data)
        return LiteralExpression(id=eid, expression=_required_cell(data["expression"]), type_ref=type_ref)
    if kind == "context":
        entries = tuple(
            ContextEntry(e["name"], expression_from_dict(e["value"]), e["type_ref"]) for e in data["entries"]
        )
        return BoxedContext(eid, entries, type_ref)
    if kind == "invocation":
        bindings = tuple(Binding(b["name"], _maybe(b["value"])) for b in data["bindings"])
        return BoxedInvocation(eid, _required_cell(data["function"]), bindings, type_ref)
    if kind == "list":
        return BoxedList(eid, tuple(expression_from_dict(i) for i in data["items"]), type_ref)
    if kind == "relation":
        rows = tuple(tuple(expression_from_dict(c) for c in row) for row in data["rows"])
        return BoxedRelation(eid, tuple(data["columns"]), rows, type_ref)
    if kind == "function":
        params = tuple(Parameter(p["name"], p["type_ref"]) for p in data["parameters"])
        return BoxedFunction(eid, params, _maybe(data["body"]), type_ref)
    if kind == "conditional":
        condition, then, otherwise = (expression_from_dict(data[k]) for k in ("condition", "then", "otherwise"))
        return BoxedConditional(eid, condition, then, otherwise, type_ref)
    if kind == "filter":
        return BoxedFilter(eid, expression_from_dict(data["source"]), expression_from_dict(data["match"]), type_ref)
    if kind == "iterator":
        source, body = expression_from_dict(data["source"]), expression_from_dict(data["body"])
        return BoxedIterator(eid, data["iterator"], data["variable"], source, body, type_ref)
    if kind == "service":
        return ServiceCall(eid, data["service"], tuple(data.get("outputs", ())), type_ref)
    raise TypeError(f"unknown expression kind {kind!r}")


# ---------------------------------------------------------------- walking expressions


def _children(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return tuple(getattr(value, f.name) for f in fields(value))
    return ()


def walk_cells(expression: Any) -> list[Cell]:
    """Every cell of an expression, however deeply nested, in document order."""
    if isinstance(expression, Cell):
        return [expression]
    return [cell for child in _children(expression) for cell in walk_cells(child)]


def map_cells(expression: Any, change: Callable[[Cell], Cell]) -> Any:
    """The same expression with `change` applied to each of its cells."""
    if isinstance(expression, Cell):
        return change(expression)
    if isinstance(expression, tuple):
        return tuple(map_cells(v, change) for v in expression)
    if is_dataclass(expression) and not isinstance(expression, type):
        updates = {
            f.name: map_cells(getattr(expression, f.name), change)
            for f in fields(expression)
            if f.init and (is_dataclass(getattr(expression, f.name)) or isinstance(getattr(expression, f.name), tuple))
        }
        return replace(expression, **updates) if updates else expression
    return expression
