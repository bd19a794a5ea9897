"""Decisions as plain, frozen data: what the reader builds, what is versioned and stored as JSON.

A `DecisionModel` is one decision together with every decision and input data it requires
(its part of the decision requirement graph), so a stored version is self-contained and
evaluates the same way forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from engine.dmn.expressions import (
    AUTO,
    FEEL,
    BoxedFunction,
    Cell,
    DecisionTable,
    Expression,
    cell_from_dict,
    expression_from_dict,
    map_cells,
    walk_cells,
)

MODEL_FORMAT = 1


@dataclass(frozen=True)
class ItemDefinition:
    """A named type: a base type (`type_ref`), a structure (`components`), a collection, allowed values."""

    name: str
    type_ref: str | None = None
    is_collection: bool = False
    allowed: Cell | None = None  # allowedValues: unary tests
    components: tuple[ItemDefinition, ...] = ()
    function: bool = False  # a functionItem: any function
    output_type: str | None = None  # the functionItem's outputTypeRef


@dataclass(frozen=True)
class BusinessKnowledgeModel:
    """A reusable function (its encapsulated logic), visible to FEEL under its variable name."""

    id: str
    name: str
    variable: str
    logic: BoxedFunction
    required_knowledge: tuple[str, ...] = ()  # ids of the BKMs and decision services it invokes
    prefix: str = ""  # the import name it is visible under ("" in its own file)


@dataclass(frozen=True)
class DecisionService:
    """Decisions packaged as a function: parameters are its input decisions, then its input data."""

    id: str
    name: str
    variable: str
    outputs: tuple[str, ...]  # decision ids
    encapsulated: tuple[str, ...]
    input_decisions: tuple[str, ...]
    input_data: tuple[str, ...]
    prefix: str = ""
    type_ref: str | None = None  # its variable's type: a function item whose output type the result must have


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
    prefix: str = ""  # the import name it is visible under ("" in its own file)


@dataclass(frozen=True)
class Decision:
    id: str
    name: str
    variable: str  # the name its result has for decisions that require it
    logic: Expression
    required_decisions: tuple[str, ...] = ()
    required_inputs: tuple[str, ...] = ()  # input data ids
    tests: tuple[TestCase, ...] = ()
    required_knowledge: tuple[str, ...] = ()  # ids of BKMs and decision services it invokes
    result_type: str | None = None  # the variable's typeRef: results are checked against it
    prefix: str = ""  # the import name it is visible under ("" in its own file)

    @property
    def output_names(self) -> tuple[str, ...]:
        if isinstance(self.logic, DecisionTable):
            return tuple(o.name for o in self.logic.outputs)
        return (self.variable,)

    def cells(self) -> list[Cell]:
        """Every expression cell of the decision."""
        return walk_cells(self.logic)

    def with_language(self, language: str) -> Decision:
        """The same decision with every undeclared (`auto`) cell set to `language`."""
        return replace(
            self, logic=map_cells(self.logic, lambda c: replace(c, language=language) if c.language == AUTO else c)
        )


@dataclass(frozen=True)
class DecisionModel:
    """One decision and what it requires; `decisions` lists dependencies first, the decision last."""

    decision: str
    name: str
    file: str
    decisions: tuple[Decision, ...]
    input_data: tuple[InputData, ...] = ()
    format: int = field(default=MODEL_FORMAT)
    bkms: tuple[BusinessKnowledgeModel, ...] = ()  # every BKM the decisions invoke, directly or not
    services: tuple[DecisionService, ...] = ()  # every decision service they invoke
    item_definitions: tuple[ItemDefinition, ...] = ()  # imported ones named `import.name`
    aliases: tuple[tuple[str, str], ...] = ()  # (import path, path) of a file imported through two paths

    @property
    def top(self) -> Decision:
        return self.decisions[-1]

    def names(self) -> frozenset[str]:
        """Names a FEEL text of this model may use: input data, decision results, output names."""
        return model_names(self.decisions, self.input_data, self.bkms, self.services)

    def language(self) -> str:
        """ "feel", "python" or "mixed", over every cell."""
        languages = {c.language for d in self.decisions for c in d.cells()}
        languages.update(c.language for b in self.bkms for c in walk_cells(b.logic))
        return languages.pop() if len(languages) == 1 else ("mixed" if languages else FEEL)

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON; fields added after the first format are left out while empty, so a model that
        does not use them keeps its content hash."""
        compact: dict[str, Any] = _compact(asdict(self))
        return compact

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
            bkms=tuple(
                BusinessKnowledgeModel(
                    id=b["id"],
                    name=b["name"],
                    variable=b["variable"],
                    logic=expression_from_dict(b["logic"]),  # type: ignore[arg-type]
                    required_knowledge=tuple(b.get("required_knowledge", ())),
                    prefix=b.get("prefix", ""),
                )
                for b in data.get("bkms", ())
            ),
            services=tuple(
                DecisionService(
                    id=s["id"],
                    name=s["name"],
                    variable=s["variable"],
                    outputs=tuple(s["outputs"]),
                    encapsulated=tuple(s["encapsulated"]),
                    input_decisions=tuple(s["input_decisions"]),
                    input_data=tuple(s["input_data"]),
                    prefix=s.get("prefix", ""),
                    type_ref=s.get("type_ref"),
                )
                for s in data.get("services", ())
            ),
            item_definitions=tuple(_item_definition(i) for i in data.get("item_definitions", ())),
            aliases=tuple((a, b) for a, b in data.get("aliases", ())),
        )


# ---------------------------------------------------------------- restoring from JSON


def _item_definition(data: dict[str, Any]) -> ItemDefinition:
    return ItemDefinition(
        name=data["name"],
        type_ref=data["type_ref"],
        is_collection=data["is_collection"],
        allowed=cell_from_dict(data["allowed"]),
        components=tuple(_item_definition(c) for c in data["components"]),
        function=data.get("function", False),
        output_type=data.get("output_type"),
    )


def _decision(data: dict[str, Any]) -> Decision:
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
        logic=expression_from_dict(data["logic"]),
        required_decisions=tuple(data["required_decisions"]),
        required_inputs=tuple(data["required_inputs"]),
        tests=tests,
        required_knowledge=tuple(data.get("required_knowledge", ())),
        result_type=data.get("result_type"),
        prefix=data.get("prefix", ""),
    )


# ---------------------------------------------------------------- storing and naming

_ADDED_FIELDS = frozenset(
    {"bkms", "services", "item_definitions", "aliases", "required_knowledge", "result_type", "prefix"}
)


def _compact(data: Any) -> Any:
    """`data` without the empty values of fields added after the first format (see `to_dict`)."""
    if isinstance(data, dict):
        return {k: _compact(v) for k, v in data.items() if not (k in _ADDED_FIELDS and v in ((), [], "", None))}
    if isinstance(data, list | tuple):
        return [_compact(v) for v in data]
    return data


def model_names(
    decisions: Iterable[Decision],
    input_data: Iterable[InputData],
    bkms: Iterable[BusinessKnowledgeModel] = (),
    services: Iterable[DecisionService] = (),
) -> frozenset[str]:
    """Names FEEL texts may use: input data, decision results and output names, BKMs and services (imported ones
    under `import.name`, and the import names)."""
    names: set[str] = set()
    for data in input_data:
        _add_name(names, data.prefix, data.name)
    for bkm in bkms:
        _add_name(names, bkm.prefix, bkm.variable)
    for service in services:
        _add_name(names, service.prefix, service.variable)
    for decision in decisions:
        _add_name(names, decision.prefix, decision.variable)
        if not decision.prefix:
            names.update(decision.output_names)
    return frozenset(names)


def _add_name(names: set[str], prefix: str, name: str) -> None:
    names.add(name)
    if prefix:
        names.update(prefix.split("."))  # `Model B.modelA`: each import name is a name
