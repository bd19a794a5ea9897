"""Evaluating a compiled decision model: hit policies, required decisions, and the trace.

Decisions run in dependency order; each one's result is bound under its variable name (and,
for tables, under each output name) for the decisions after it. A table with no matching
rule gives its default outputs, or null, never nothing, unless it declares
`pmoflow:requireMatch="true"`, which makes it an error. Every failure is a DecisionError
naming the decision, rule and column.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.dmn.compiled import (
    CompiledBoxed,
    CompiledDecision,
    CompiledLiteral,
    CompiledModel,
    CompiledRule,
    CompiledTable,
    Frame,
)
from engine.dmn.errors import DecisionError
from engine.dmn.expressions import ServiceCall
from engine.dmn.feel import EvalState, FeelError, from_python, to_python
from engine.dmn.feel.scope import Scope
from engine.dmn.feel.state import DEFAULT_TIME_LIMIT, enter, leave, spend
from engine.dmn.feel.temporal import parse_date, parse_date_time, parse_duration, parse_time
from engine.dmn.feel.values import add, compare, equal, to_text
from engine.dmn.model import Decision
from engine.dmn.python_cells import PythonRunner

RULES_PER_CHARGE = 64  # rules tested between two counts of work (see EvalState.spend)
SINGLE_HIT = ("UNIQUE", "FIRST", "PRIORITY", "ANY")
EVALUATION_ERRORS = (FeelError, ArithmeticError, ValueError, RecursionError)
_COERCE: dict[str, Callable[[str], Any]] = {
    "date": parse_date,
    "time": parse_time,
    "dateTime": parse_date_time,
    "date and time": parse_date_time,
    "dayTimeDuration": parse_duration,
    "days and time duration": parse_duration,
    "duration": parse_duration,
    "yearMonthDuration": parse_duration,
    "years and months duration": parse_duration,
}


@dataclass(frozen=True)
class MatchedRule:
    decision: str
    id: str
    number: int
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "id": self.id, "number": self.number, "description": self.description}


@dataclass(frozen=True)
class DecisionTrace:
    """How one decision of the graph was evaluated."""

    decision: str
    name: str
    kind: str
    hit_policy: str | None
    inputs: dict[str, Any]
    matched_rules: tuple[MatchedRule, ...]
    outputs: dict[str, Any]
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "name": self.name,
            "kind": self.kind,
            "hit_policy": self.hit_policy,
            "inputs": self.inputs,
            "matched_rules": [r.as_dict() for r in self.matched_rules],
            "outputs": self.outputs,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Evaluation:
    """The result: outputs as plain JSON values, the matched rules of the decision, the trace."""

    decision: str
    outputs: dict[str, Any]
    matched_rules: tuple[MatchedRule, ...]
    trace: tuple[DecisionTrace, ...]
    values: dict[str, Any] = field(default_factory=dict, compare=False)  # the outputs as FEEL values
    value: Any = field(default=None, compare=False)  # the decision's FEEL value (a table's: one output or a context)


@dataclass(frozen=True)
class _Outcome:
    outputs: dict[str, Any]  # FEEL values by output name
    value: Any  # the decision's value for decisions that require it
    matched: tuple[CompiledRule, ...]
    inputs: dict[str, Any]


def evaluate(
    model: CompiledModel,
    variables: Mapping[str, Any],
    *,
    now: Callable[[], datetime] | None = None,
    python: PythonRunner | None = None,
    time_limit: float | None = None,
) -> Evaluation:
    """Evaluate the model's decision over `variables` (plain Python values) within `time_limit` seconds (the
    whole graph; None: DEFAULT_TIME_LIMIT); raises DecisionError."""
    limit = time_limit or DEFAULT_TIME_LIMIT
    state = EvalState(now=now, time_limit=limit) if now is not None else EvalState(time_limit=limit)
    if model.types.items:
        state.item_types = model.types.instance
    frame = Frame(variables, state, python, _HOOKS, model.types, model.aliases)
    traces: list[DecisionTrace] = []
    previous = enter(state)
    try:
        if model.inputs or model.knowledge or model.aliases:
            _prepare(frame, model)
        outcome = _run(frame, model, model.plan or tuple(range(len(model.decisions))), traces)
    finally:
        leave(previous)
    assert outcome is not None
    top = traces[-1]
    return Evaluation(
        decision=model.model.decision,
        outputs=top.outputs,
        matched_rules=top.matched_rules,
        trace=tuple(traces),
        values=dict(outcome.outputs),
        value=outcome.value,
    )


def _prepare(frame: Frame, model: CompiledModel) -> None:
    """Typed input data converted from their JSON form; BKMs and decision services bound as functions; a file
    imported through two paths visible under both."""
    for alias in model.aliases:
        frame.namespace(alias)
    for name, prefix, type_ref in model.inputs:
        source = frame.variables if not prefix else frame.namespace(prefix)
        if name in source:
            try:
                value = source[name] if prefix else from_python(source[name])
                converted = model.types.from_input(value, type_ref, f"input {name!r}")
            except EVALUATION_ERRORS as err:
                raise DecisionError(f"input data {name!r}: {err}", model.model.decision) from err
            frame.bind(name, converted, prefix)
    for knowledge in model.knowledge:
        function = knowledge.make(frame)
        frame.bind(knowledge.name, function, knowledge.prefix)
        frame.bound[f"service:{knowledge.id}"] = function


def _run(
    frame: Frame, model: CompiledModel, plan: tuple[int, ...], traces: list[DecisionTrace] | None = None
) -> _Outcome | None:
    """Evaluate the decisions of `plan` in order, binding each one's result for the next."""
    outcome = None
    state = frame.state
    seen = 0  # the first decision's trace carries the warnings about inputs too
    for index in plan:
        compiled = model.decisions[index]
        decision = compiled.decision
        outcome = _evaluate_decision(frame, compiled)
        if traces is not None:
            traces.append(_trace(decision, outcome, state.warnings[seen:]))
        seen = len(state.warnings)
        frame.bind(decision.variable, outcome.value, decision.prefix)
        if not decision.prefix:
            for name, value in outcome.outputs.items():
                frame.bind(name, value)
    return outcome


def _type_name(type_ref: str | None) -> str | None:
    """`feel:date` -> `date`."""
    return type_ref.rpartition(":")[2] if type_ref else None


class _Hooks:
    """What compiled boxed expressions borrow from the evaluator (see engine.dmn.compiled.Hooks)."""

    @staticmethod
    def table(frame: Frame, owner: Decision, table: CompiledTable) -> Any:
        return _table(frame, owner, table).value

    @staticmethod
    def decisions(frame: Frame, model: CompiledModel, plan: tuple[int, ...]) -> None:
        _run(frame, model, plan)


_HOOKS = _Hooks()


def _trace(decision: Decision, outcome: _Outcome, warnings: list[str]) -> DecisionTrace:
    logic = decision.logic
    outputs = _plain(decision, "outputs", outcome.outputs)
    return DecisionTrace(
        decision=decision.id,
        name=decision.name,
        kind=logic.kind,
        hit_policy=getattr(logic, "hit_policy", None),
        inputs=outcome.inputs,
        matched_rules=tuple(MatchedRule(decision.id, r.id, r.number, r.description) for r in outcome.matched),
        outputs=outputs,
        warnings=tuple(warnings),
    )


def _evaluate_decision(frame: Frame, compiled: CompiledDecision) -> _Outcome:
    decision = compiled.decision
    inner = frame.scope_of(decision.prefix) if decision.prefix else frame
    if isinstance(compiled.logic, CompiledLiteral):
        outcome = _literal(inner, decision, compiled.logic)
    elif isinstance(compiled.logic, CompiledBoxed):
        outcome = _boxed(inner, decision, compiled.logic)
    else:
        return _table(inner, decision, compiled.logic)
    if decision.result_type and outcome.value is not None:
        value = frame.types.conform(outcome.value, decision.result_type, f"decision {decision.name!r}")
        if value is not outcome.value:
            outcome = _Outcome({decision.variable: value}, value, outcome.matched, outcome.inputs)
    return outcome


def _boxed(frame: Frame, decision: Decision, boxed: CompiledBoxed) -> _Outcome:
    try:
        value = boxed.value(frame)
    except EVALUATION_ERRORS as err:
        raise DecisionError(
            str(err), decision.id, column=boxed.expression.kind, element_id=boxed.expression.id
        ) from err
    expression = boxed.expression
    if isinstance(expression, ServiceCall) and expression.outputs:  # a service's outputs: one per output decision
        if len(expression.outputs) == 1:
            return _Outcome({expression.outputs[0]: value}, value, (), {})
        if isinstance(value, dict):
            return _Outcome(dict(value), value, (), {})
    return _Outcome({decision.variable: value}, value, (), {})


def _literal(frame: Frame, decision: Decision, literal: CompiledLiteral) -> _Outcome:
    if not literal.literal.expression.text.strip():
        frame.state.warn(f"decision {decision.name!r} has no decision logic; its value is null")
    try:
        value = literal.value(frame)
    except EVALUATION_ERRORS as err:
        raise DecisionError(
            str(err),
            decision.id,
            column="literal expression",
            text=literal.literal.expression.text,
            element_id=literal.literal.id,
        ) from err
    names = [name for name in sorted(literal.reads) if name in frame.variables and name not in frame.bound]
    inputs = _plain(decision, "inputs", {name: frame.root.find(name) for name in names})
    return _Outcome({decision.variable: value}, value, (), inputs)


def _plain(decision: Decision, what: str, values: dict[str, Any]) -> dict[str, Any]:
    """FEEL values as plain Python for the trace; raises DecisionError for a value too large to convert."""
    try:
        return {k: to_python(v) for k, v in values.items()}
    except EVALUATION_ERRORS as err:
        raise DecisionError(f"{what}: {err}", decision.id, element_id=decision.logic.id) from err


# ---------------------------------------------------------------- decision tables


def _table(frame: Frame, decision: Decision, table: CompiledTable) -> _Outcome:
    values = _input_values(frame, decision, table)
    scopes = [frame.root.with_input(v) for v in values]
    hits = _matching(frame, decision, table, scopes)
    inputs = _plain(
        decision,
        "inputs",
        {(c.expression.text or c.label or c.id): v for c, v in zip(table.table.inputs, values, strict=True)},
    )
    if not hits:
        return _no_match(frame, decision, table, inputs)
    if table.table.hit_policy in SINGLE_HIT:
        rule, outputs = _single_hit(frame, decision, table, hits)
        named = dict(zip(_names(table), outputs, strict=True))
        value = outputs[0] if len(outputs) == 1 else dict(named)
        return _Outcome(named, value, (rule,), inputs)
    return _multi_hit(frame, decision, table, hits, inputs)


def _names(table: CompiledTable) -> list[str]:
    return [o.name for o in table.table.outputs]


def _input_values(frame: Frame, decision: Decision, table: CompiledTable) -> list[Any]:
    values = []
    for clause, compute, allowed in zip(table.table.inputs, table.inputs, table.allowed, strict=True):
        try:
            value = _coerce(compute(frame), clause.type_ref)
            if allowed is not None and value is not None and allowed(frame.root.with_input(value)) is not True:
                raise FeelError(
                    f"{to_text(value)!r} is not one of the allowed values {clause.allowed.text!r}"
                    if clause.allowed
                    else "value not allowed"
                )
        except EVALUATION_ERRORS as err:
            raise DecisionError(
                str(err),
                decision.id,
                column=f"input {clause.title!r}",
                text=clause.expression.text,
                element_id=clause.expression.element_id,
            ) from err
        values.append(value)
    return values


def _coerce(value: Any, type_ref: str | None) -> Any:
    """A string input whose column is typed date, time, date and time or duration, parsed."""
    if type_ref is not None and isinstance(value, str) and (name := _type_name(type_ref)) in _COERCE:
        return _COERCE[name](value)
    return value


def _matching(
    frame: Frame, decision: Decision, table: CompiledTable, scopes: list[Scope]
) -> list[tuple[CompiledRule, tuple[Any, ...]]]:
    """The matching rules with their outputs (only the first one for hit policy FIRST)."""
    first_only = table.table.hit_policy == "FIRST"
    hits = []
    rule, column = None, -1
    rules, charge = table.rules, frame.state.spend
    try:
        for start in range(0, len(rules), RULES_PER_CHARGE):
            charge(RULES_PER_CHARGE)  # many rules of loop-free cells: the clock is read every few hundred rules
            for rule in rules[start : start + RULES_PER_CHARGE]:
                for column, test in rule.tests:
                    if test(scopes[column]) is not True:
                        break
                else:
                    hits.append((rule, _rule_outputs(frame, decision, table, rule)))
                    if first_only:
                        return hits
    except EVALUATION_ERRORS as err:
        assert rule is not None
        clause = table.table.inputs[column]
        cell = table.table.rules[rule.number - 1].inputs[column]
        raise DecisionError(
            str(err),
            decision.id,
            rule_id=rule.id,
            rule_number=rule.number,
            column=f"input {clause.title!r}",
            text=cell.text,
            element_id=cell.element_id,
        ) from err
    return hits


def _rule_outputs(frame: Frame, decision: Decision, table: CompiledTable, rule: CompiledRule) -> tuple[Any, ...]:
    values = []
    for index, compute in enumerate(rule.outputs):
        try:
            values.append(compute(frame))
        except EVALUATION_ERRORS as err:
            cell = table.table.rules[rule.number - 1].outputs[index]
            raise DecisionError(
                str(err),
                decision.id,
                rule_id=rule.id,
                rule_number=rule.number,
                column=f"output {table.table.outputs[index].name!r}",
                text=cell.text,
                element_id=cell.element_id,
            ) from err
    return tuple(values)


def _no_match(frame: Frame, decision: Decision, table: CompiledTable, inputs: dict[str, Any]) -> _Outcome:
    if table.table.require_match:
        raise DecisionError(
            "no rule matches, and this table requires a match (pmoflow:requireMatch)",
            decision.id,
            element_id=table.table.id,
        )
    outputs = {}
    for clause, default in zip(table.table.outputs, table.defaults, strict=True):
        try:
            outputs[clause.name] = default(frame) if default is not None else None
        except EVALUATION_ERRORS as err:
            raise DecisionError(
                str(err),
                decision.id,
                column=f"output {clause.name!r} (default)",
                text=clause.default.text if clause.default else None,
            ) from err
    if table.table.aggregation == "COUNT":
        outputs = {name: Decimal(0) if value is None else value for name, value in outputs.items()}
    value = (
        next(iter(outputs.values()))
        if len(outputs) == 1
        else (outputs if any(v is not None for v in outputs.values()) else None)
    )
    return _Outcome(outputs, value, (), inputs)


def _single_hit(
    frame: Frame, decision: Decision, table: CompiledTable, hits: list[tuple[CompiledRule, tuple[Any, ...]]]
) -> tuple[CompiledRule, tuple[Any, ...]]:
    policy = table.table.hit_policy
    if policy == "UNIQUE" and len(hits) > 1:
        raise DecisionError(
            f"hit policy UNIQUE allows one matching rule, but rules {_numbers(hits)} match",
            decision.id,
            element_id=table.table.id,
        )
    if policy == "ANY":
        first = hits[0][1]
        for rule, outputs in hits[1:]:
            if not all(equal(a, b) for a, b in zip(first, outputs, strict=True)):
                raise DecisionError(
                    f"hit policy ANY needs equal outputs, but rules {hits[0][0].number} and {rule.number} differ",
                    decision.id,
                    element_id=table.table.id,
                )
    if policy == "PRIORITY":
        return min(hits, key=lambda hit: _priority(frame, table, hit[1]))
    return hits[0]


def _numbers(hits: list[tuple[CompiledRule, tuple[Any, ...]]]) -> str:
    return ", ".join(f"{rule.number} ({rule.id})" for rule, _ in hits)


def _priority(frame: Frame, table: CompiledTable, outputs: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(rank(frame, value) for rank, value in zip(table.ranks, outputs, strict=True) if rank is not None)


def _multi_hit(
    frame: Frame,
    decision: Decision,
    table: CompiledTable,
    hits: list[tuple[CompiledRule, tuple[Any, ...]]],
    inputs: dict[str, Any],
) -> _Outcome:
    if table.table.hit_policy == "OUTPUT ORDER":
        hits = sorted(hits, key=lambda hit: _priority(frame, table, hit[1]))
    names = _names(table)
    rules = tuple(rule for rule, _ in hits)
    aggregation = table.table.aggregation
    if aggregation:
        try:
            value = _aggregate(aggregation, [outputs[0] for _, outputs in hits])
        except EVALUATION_ERRORS as err:
            raise DecisionError(
                f"{aggregation} of the outputs: {err}",
                decision.id,
                column=f"output {names[0]!r}",
                element_id=table.table.id,
            ) from err
        return _Outcome({names[0]: value}, value, rules, inputs)
    if len(names) == 1:
        value = [values[0] for _, values in hits]
        return _Outcome({names[0]: value}, value, rules, inputs)
    rows = [dict(zip(names, values, strict=True)) for _, values in hits]  # the standard's list of contexts
    return _Outcome({decision.variable: rows}, rows, rules, inputs)


def _aggregate(aggregation: str, values: list[Any]) -> Any:
    """SUM, MIN, MAX or COUNT of the non-null outputs; raises FeelError for values that do not combine."""
    spend(len(values))
    present = [v for v in values if v is not None]
    if aggregation == "COUNT":
        return Decimal(len(present))
    if not present:
        return None
    if aggregation == "SUM":
        return functools.reduce(add, present)
    pick = -1 if aggregation == "MIN" else 1
    return functools.reduce(lambda a, b: b if (compare(b, a) or 0) * pick > 0 else a, present)
