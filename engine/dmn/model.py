"""Decisions as plain, frozen data: what the reader builds, what is versioned and stored as JSON.

A `DecisionModel` is one decision together with every decision and input data it requires
(its part of the decision requirement graph), so a stored version is self-contained and
evaluates the same way forever.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

FEEL = "feel"
PYTHON = "python"
AUTO = "auto"  # no language declared: decided per decision by the reader
HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")
MODEL_FORMAT = 1


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
class TestCase:
    """A row of the decision's test table: input values and expected outputs, as FEEL text."""

    name: str
    inputs: tuple[tuple[str, str], ...]
    expected: tuple[tuple[str, str], ...]
    id: str | None = None


@dataclass(frozen=True)
class InputData:
    id: str
    name: str
    type_ref: str | None = None


@dataclass(frozen=True)
class Decision:
    id: str
    name: str
    variable: str  # the name its result has for decisions that require it
    logic: DecisionTable | LiteralExpression
    required_decisions: tuple[str, ...] = ()
    required_inputs: tuple[str, ...] = ()  # input data ids
    tests: tuple[TestCase, ...] = ()

    @property
    def output_names(self) -> tuple[str, ...]:
        if isinstance(self.logic, DecisionTable):
            return tuple(o.name for o in self.logic.outputs)
        return (self.variable,)

    def cells(self) -> list[Cell]:
        """Every expression cell of the decision."""
        logic = self.logic
        if isinstance(logic, LiteralExpression):
            return [logic.expression]
        cells = [i.expression for i in logic.inputs] + [c for i in logic.inputs if (c := i.allowed)]
        cells += [c for o in logic.outputs for c in (o.allowed, o.default) if c is not None]
        return cells + [c for r in logic.rules for c in (*r.inputs, *r.outputs)]

    def with_language(self, language: str) -> Decision:
        """The same decision with every undeclared (`auto`) cell set to `language`."""
        return _map_cells(self, lambda c: replace(c, language=language) if c.language == AUTO else c)


@dataclass(frozen=True)
class DecisionModel:
    """One decision and what it requires; `decisions` lists dependencies first, the decision last."""

    decision: str
    name: str
    file: str
    decisions: tuple[Decision, ...]
    input_data: tuple[InputData, ...] = ()
    format: int = field(default=MODEL_FORMAT)

    @property
    def top(self) -> Decision:
        return self.decisions[-1]

    def names(self) -> frozenset[str]:
        """Names a FEEL text of this model may use: input data, decision results, output names."""
        names = {d.name for d in self.input_data}
        for decision in self.decisions:
            names.add(decision.variable)
            names.update(decision.output_names)
        return frozenset(names)

    def language(self) -> str:
        """ "feel", "python" or "mixed", over every cell."""
        languages = {c.language for d in self.decisions for c in d.cells()}
        return languages.pop() if len(languages) == 1 else ("mixed" if languages else FEEL)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def content_hash(self) -> str:
        """A digest of the decision logic; equal models have equal digests."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionModel:
        """Restore a stored model; raises KeyError or TypeError for a malformed one."""
        return cls(
            decision=data["decision"],
            name=data["name"],
            file=data["file"],
            decisions=tuple(_decision(d) for d in data["decisions"]),
            input_data=tuple(InputData(**i) for i in data["input_data"]),
            format=data.get("format", 1),
        )


# ---------------------------------------------------------------- restoring from JSON


def _cell(data: dict[str, Any] | None) -> Cell | None:
    return None if data is None else Cell(**data)


def _required_cell(data: dict[str, Any]) -> Cell:
    return Cell(**data)


def _decision(data: dict[str, Any]) -> Decision:
    logic = data["logic"]
    restored: DecisionTable | LiteralExpression
    if "rules" in logic:
        restored = DecisionTable(
            id=logic["id"],
            hit_policy=logic["hit_policy"],
            aggregation=logic["aggregation"],
            inputs=tuple(
                InputClause(
                    id=i["id"],
                    label=i["label"],
                    expression=_required_cell(i["expression"]),
                    type_ref=i["type_ref"],
                    allowed=_cell(i["allowed"]),
                )
                for i in logic["inputs"]
            ),
            outputs=tuple(
                OutputClause(
                    id=o["id"],
                    label=o["label"],
                    name=o["name"],
                    type_ref=o["type_ref"],
                    allowed=_cell(o["allowed"]),
                    default=_cell(o["default"]),
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
    else:
        restored = LiteralExpression(
            id=logic["id"], expression=_required_cell(logic["expression"]), type_ref=logic["type_ref"]
        )
    tests = tuple(
        TestCase(
            name=t["name"],
            inputs=tuple(tuple(p) for p in t["inputs"]),
            expected=tuple(tuple(p) for p in t["expected"]),
            id=t.get("id"),
        )
        for t in data["tests"]
    )
    return Decision(
        id=data["id"],
        name=data["name"],
        variable=data["variable"],
        logic=restored,
        required_decisions=tuple(data["required_decisions"]),
        required_inputs=tuple(data["required_inputs"]),
        tests=tests,
    )


def _map_cells(decision: Decision, change: Any) -> Decision:
    logic = decision.logic
    if isinstance(logic, LiteralExpression):
        return replace(decision, logic=replace(logic, expression=change(logic.expression)))

    def maybe(cell: Cell | None) -> Cell | None:
        return None if cell is None else change(cell)

    table = replace(
        logic,
        inputs=tuple(replace(i, expression=change(i.expression), allowed=maybe(i.allowed)) for i in logic.inputs),
        outputs=tuple(replace(o, allowed=maybe(o.allowed), default=maybe(o.default)) for o in logic.outputs),
        rules=tuple(
            replace(r, inputs=tuple(change(c) for c in r.inputs), outputs=tuple(change(c) for c in r.outputs))
            for r in logic.rules
        ),
    )
    return replace(decision, logic=table)
