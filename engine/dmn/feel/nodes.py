"""The FEEL syntax tree: what the parser builds and the compiler turns into functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TypeSpec = Any  # a type name (str), or ("list" | "range", T), ("context", ((key, T), ...)), ("function", (T, ...), T)


class Node:
    """Base of every syntax node; `start` is the character offset where the node begins."""

    start: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any
    start: int = 0


@dataclass(frozen=True)
class Name(Node):
    name: str
    start: int = 0


@dataclass(frozen=True)
class InputValue(Node):
    """`?`: the value of the input column in a unary test."""

    start: int = 0


@dataclass(frozen=True)
class TemporalLiteral(Node):
    """`@"2026-01-01"`: a date, time, date and time or duration written as a string."""

    text: str
    start: int = 0


@dataclass(frozen=True)
class Path(Node):
    target: Node
    name: str
    start: int = 0


@dataclass(frozen=True)
class Filter(Node):
    target: Node
    condition: Node
    start: int = 0


@dataclass(frozen=True)
class Call(Node):
    function: Node
    args: tuple[Node, ...]
    named: tuple[tuple[str, Node], ...]
    start: int = 0


@dataclass(frozen=True)
class Negate(Node):
    operand: Node
    start: int = 0


@dataclass(frozen=True)
class Arithmetic(Node):
    op: str
    left: Node
    right: Node
    start: int = 0


@dataclass(frozen=True)
class Comparison(Node):
    op: str
    left: Node
    right: Node
    start: int = 0


@dataclass(frozen=True)
class Logical(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    start: int = 0


@dataclass(frozen=True)
class Between(Node):
    value: Node
    low: Node
    high: Node
    start: int = 0


@dataclass(frozen=True)
class In(Node):
    value: Node
    tests: tuple[Node, ...]
    start: int = 0


@dataclass(frozen=True)
class InstanceOf(Node):
    value: Node
    type_name: TypeSpec
    start: int = 0


@dataclass(frozen=True)
class If(Node):
    condition: Node
    then: Node
    otherwise: Node
    start: int = 0


@dataclass(frozen=True)
class Iteration:
    name: str
    source: Node
    end: Node | None = None  # `for i in 1..3`: a range of integers


@dataclass(frozen=True)
class For(Node):
    iterations: tuple[Iteration, ...]
    body: Node
    start: int = 0


@dataclass(frozen=True)
class Quantified(Node):
    kind: str  # "some" | "every"
    iterations: tuple[Iteration, ...]
    condition: Node
    start: int = 0


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Node, ...]
    start: int = 0


@dataclass(frozen=True)
class ContextExpr(Node):
    entries: tuple[tuple[str, Node], ...]
    start: int = 0


@dataclass(frozen=True)
class NotEqualValue(Node):
    """`!= 10` where a value is expected: the unary test as a value (equal to the same test)."""

    operand: Node
    start: int = 0


@dataclass(frozen=True)
class RangeExpr(Node):
    low: Node | None
    high: Node | None
    low_closed: bool
    high_closed: bool
    start: int = 0
    point: bool = False  # `(=10)`: the unary test as a value, not the range [10..10]


@dataclass(frozen=True)
class FunctionDef(Node):
    params: tuple[str, ...]
    body: Node
    start: int = 0
    types: tuple[TypeSpec | None, ...] = ()  # each parameter's type (as `InstanceOf.type_name`), or None


# ---------------------------------------------------------------- unary tests (input entries)


@dataclass(frozen=True)
class AnyTest(Node):
    """`-` (or an empty cell): every value passes."""

    start: int = 0


@dataclass(frozen=True)
class CompareTest(Node):
    """`< 10`, `>= date("2026-01-01")`, `= "x"`, `!= 3`."""

    op: str
    endpoint: Node
    start: int = 0


@dataclass(frozen=True)
class RangeTest(Node):
    range: RangeExpr
    start: int = 0


@dataclass(frozen=True)
class ExprTest(Node):
    """An expression: equal to the input, a list holding it, or a boolean (with `?`)."""

    expr: Node
    uses_input: bool
    start: int = 0


@dataclass(frozen=True)
class Tests(Node):
    """`a, b, c`: passes if one of the tests passes."""

    tests: tuple[Node, ...]
    start: int = 0


@dataclass(frozen=True)
class NotTests(Node):
    """`not(a, b)`: passes if none of the tests passes."""

    tests: Tests
    start: int = 0
