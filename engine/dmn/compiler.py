"""Compiling a decision model: decisions, boxed expressions, BKMs and decision services, into closures.

`compile_model` compiles every cell once (see engine.dmn.cell_compiler) and reports every cell
that cannot work. Boxed expressions (contexts, invocations, lists, relations, function
definitions, conditionals, filters, iterators, nested to any depth) become closures over a
`Frame` (engine.dmn.compiled). Business knowledge models and decision services become FEEL
functions, bound under their names (imported ones inside the context of their import name)
before any decision runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.dmn.cell_compiler import CellCompiler
from engine.dmn.compiled import (
    CompiledBoxed,
    CompiledDecision,
    CompiledKnowledge,
    CompiledLiteral,
    CompiledModel,
    Frame,
    Value,
    evaluation_order,
)
from engine.dmn.errors import CellError, ModelInvalid
from engine.dmn.expressions import (
    BoxedConditional,
    BoxedContext,
    BoxedFilter,
    BoxedFunction,
    BoxedInvocation,
    BoxedIterator,
    BoxedList,
    BoxedRelation,
    Cell,
    DecisionTable,
    Expression,
    LiteralExpression,
    ServiceCall,
)
from engine.dmn.feel import FeelError
from engine.dmn.feel.errors import FeelLimit
from engine.dmn.feel.scope import ItemScope
from engine.dmn.feel.state import MAX_CALL_DEPTH, EvalState, check_items
from engine.dmn.feel.values import Function, type_name
from engine.dmn.model import BusinessKnowledgeModel, Decision, DecisionModel, DecisionService
from engine.dmn.python_cells import PythonCheck
from engine.dmn.types import Types


def compile_model(
    model: DecisionModel,
    python_check: PythonCheck | None = None,
    names: frozenset[str] | None = None,
    check_only: bool = False,
) -> CompiledModel:
    """Compile every decision, BKM and service of the model; raises ModelInvalid naming every cell that cannot
    work. With `check_only`, only the decisions are compiled (the reader checks BKMs on their own)."""
    errors: list[CellError] = []
    types = Types(model.item_definitions)
    known = model.names() if names is None else names
    callable_names = frozenset(b.variable for b in model.bkms) | {s.variable for s in model.services}
    callable_names |= {b.prefix for b in model.bkms if b.prefix} | {s.prefix for s in model.services if s.prefix}
    compiler = _Compiler(known, python_check, errors, types, callable_names)
    decisions = tuple(compiler.decision(d) for d in model.decisions)
    knowledge: list[CompiledKnowledge] = []
    if not check_only:
        knowledge = [compiler.bkm(b) for b in model.bkms]
        knowledge += [compiler.service(s, model, decisions) for s in model.services]
    if errors:
        raise ModelInvalid(errors)
    inputs = tuple((i.name, i.prefix, i.type_ref) for i in model.input_data if types.known(i.type_ref) and i.type_ref)
    plan = evaluation_order(model.decisions, [model.decisions[-1].id] if model.decisions else [], ())
    reads = frozenset(compiler.all_reads)
    calls = frozenset(compiler.all_calls)
    return CompiledModel(model, decisions, reads, plan, tuple(knowledge), types, inputs, dict(model.aliases), calls)


def _arguments(
    state: EvalState, what: str, params: tuple[str, ...], args: list[Any], typed: list[tuple[int, str]], types: Types
) -> list[Any] | None:
    """The arguments, each conformed to its parameter's type; None (the call gives null, with a warning) when
    their count is wrong or one does not conform."""
    if len(args) != len(params):
        state.warn(f"{what} takes {len(params)} arguments, not {len(args)}; the call gave null")
        return None
    values = list(args)
    for i, type_ref in typed:
        if values[i] is not None:
            values[i] = types.conform(values[i], type_ref, f"{what}, parameter {params[i]!r}")
            if values[i] is None:
                return None
    return values


@contextmanager
def _nested_call(state: EvalState) -> Iterator[None]:
    """A call of a BKM, function or service: one step of work, at most MAX_CALL_DEPTH deep."""
    state.depth += 1
    state.tick()  # recursion without a loop is work too
    try:
        if state.depth > MAX_CALL_DEPTH:
            raise FeelLimit(f"functions call each other more than {MAX_CALL_DEPTH} levels deep")
        yield
    finally:
        state.depth -= 1


def _conditional(f: Frame, condition: Value, then: Value, otherwise: Value, where: str) -> Any:
    """A boxed conditional: `then` when the condition is true, `else` when false or null, null otherwise."""
    verdict = condition(f)
    if verdict is True:
        return then(f)
    if verdict is False or verdict is None:
        return otherwise(f)
    f.state.warn(f"{where}: the condition is {type_name(verdict)}, not a boolean; the conditional gave null")
    return None


class _Compiler(CellCompiler):
    """Compiles decisions, boxed expressions nested to any depth, BKMs and decision services."""

    def decision(self, decision: Decision) -> CompiledDecision:
        """Compile one decision's cells; problems go to `self.errors`."""
        self.decision_id = decision.id
        self.owner = decision
        logic = decision.logic
        if isinstance(logic, LiteralExpression):
            value = self.value(logic.expression, "literal expression")
            return CompiledDecision(decision, CompiledLiteral(logic, value, self.reads))
        if isinstance(logic, DecisionTable):
            return CompiledDecision(decision, self.table(logic))
        return CompiledDecision(decision, CompiledBoxed(logic, self.expression(logic, decision.name)))

    # ------------------------------------------------------------ boxed expressions

    def expression(self, expr: Expression, where: str) -> Value:
        """A closure computing any expression, conformed to its typeRef."""
        value = self._expression(expr, where)
        type_ref = expr.type_ref if not isinstance(expr, DecisionTable) else None
        if type_ref and self.types.known(type_ref) and not isinstance(expr, BoxedFunction | ServiceCall):
            conform, what = self.types.conform, f"{where} ({type_ref})"
            return lambda f: conform(value(f), type_ref, what)
        return value

    def _expression(self, expr: Expression, where: str) -> Value:
        if isinstance(expr, LiteralExpression):
            return self.value(expr.expression, where)
        if isinstance(expr, DecisionTable):
            return self.nested_table(expr)
        if isinstance(expr, BoxedContext):
            return self.context(expr, where)
        if isinstance(expr, BoxedInvocation):
            return self.invocation(expr, where)
        if isinstance(expr, BoxedList):
            items = [self.expression(item, f"{where}, item {n}") for n, item in enumerate(expr.items, start=1)]
            return lambda f: [item(f) for item in items]
        if isinstance(expr, BoxedRelation):
            rows = [
                [(c, self.expression(v, f"{where}, row {n}, {c!r}")) for c, v in zip(expr.columns, row, strict=True)]
                for n, row in enumerate(expr.rows, start=1)
            ]
            return lambda f: [{c: v(f) for c, v in row} for row in rows]
        if isinstance(expr, BoxedFunction):
            return self.function(expr, where)
        if isinstance(expr, BoxedConditional):
            condition, then, otherwise = (
                self.expression(e, f"{where}, {part}")
                for e, part in ((expr.condition, "if"), (expr.then, "then"), (expr.otherwise, "else"))
            )
            return lambda f: _conditional(f, condition, then, otherwise, where)
        if isinstance(expr, BoxedFilter):
            return self.filter(expr, where)
        if isinstance(expr, BoxedIterator):
            return self.iterator(expr, where)
        return self.service_call(expr)

    def nested_table(self, table: DecisionTable) -> Value:
        compiled, owner = self.table(table), self.owner
        assert owner is not None

        def run(f: Frame) -> Any:
            if f.hooks is None:
                raise FeelError("decision tables inside boxed expressions need the decision evaluator")
            return f.hooks.table(f, owner, compiled)

        return run

    def context(self, expr: BoxedContext, where: str) -> Value:
        entries: list[tuple[str, Value]] = []
        final: Value | None = None
        names: list[str] = []
        for entry in expr.entries:
            if entry.name is None:
                with self.scoped(names):
                    final = self.expression(entry.value, f"{where}, result")
                continue
            is_function = isinstance(entry.value, BoxedFunction)
            with self.scoped([*names, entry.name] if is_function else names):  # a function may call itself
                value = self.expression(entry.value, f"{where}, entry {entry.name!r}")
            if entry.type_ref and self.types.known(entry.type_ref):
                value = self._conformed(value, entry.type_ref, f"{where}, entry {entry.name!r}")
            entries.append((entry.name, value))
            names.append(entry.name)

        def run(f: Frame) -> Any:
            result: dict[str, Any] = {}
            inner = f.at(f.root.child(result))
            for name, value in entries:
                result[name] = value(inner)
            return final(inner) if final is not None else result

        return run

    def _conformed(self, value: Value, type_ref: str, what: str) -> Value:
        conform = self.types.conform
        return lambda f: conform(value(f), type_ref, what)

    def invocation(self, expr: BoxedInvocation, where: str) -> Value:
        function = self.function_name(expr.function, where)
        bindings = [
            (b.name, self.expression(b.value, f"{where}, parameter {b.name!r}") if b.value is not None else None)
            for b in expr.bindings
        ]
        text = expr.function.text.strip()

        def run(f: Frame) -> Any:
            target = function(f)
            if not isinstance(target, Function):
                f.state.warn(f"{text!r} is {type_name(target)}, not a function; the invocation gave null")
                return None
            args: list[Any] = [None] * len(target.params)
            for name, value in bindings:
                if name not in target.params:
                    f.state.warn(f"{text!r} has no parameter {name!r}; the invocation gave null")
                    return None
                args[target.params.index(name)] = value(f) if value is not None else None
            return target.call(f.state, args)

        return run

    def function_name(self, cell: Cell, where: str) -> Value:
        """The function an invocation names: a BKM, service or entry by its name (`Pre-bureau Table`, `imp.f`,
        names FEEL would read as arithmetic), else the value of the FEEL text."""
        text = cell.text.strip()
        if text in self.bound:
            return lambda f: f.root.lookup(text)
        prefix, _, name = text.rpartition(".")
        if prefix in self.bound and name:
            return lambda f: (lambda ns: ns.get(name) if isinstance(ns, dict) else None)(f.root.lookup(prefix))
        return self.value(cell, f"{where}, function name")

    def function(self, expr: BoxedFunction, where: str) -> Value:
        params = tuple(p.name for p in expr.parameters)
        typed = [(i, p.type_ref) for i, p in enumerate(expr.parameters) if p.type_ref and self.types.known(p.type_ref)]
        with self.scoped(list(params)):
            body = self.expression(expr.body, f"{where}, body") if expr.body is not None else (lambda f: None)
        result_type = expr.type_ref if expr.type_ref and self.types.known(expr.type_ref) else None
        types = self.types

        def run(f: Frame) -> Function:
            def call(state: EvalState, args: list[Any]) -> Any:
                values = _arguments(state, where, params, args, typed, types)
                if values is None:
                    return None
                with _nested_call(state):
                    value = body(f.at(f.root.child(dict(zip(params, values, strict=True)))))
                return types.conform(value, result_type, f"{where}, result") if result_type else value

            return Function("function", call, params)

        return run

    def filter(self, expr: BoxedFilter, where: str) -> Value:
        source = self.expression(expr.source, f"{where}, in")
        with self.scoped(["item"]):
            match = self.expression(expr.match, f"{where}, match")

        def run(f: Frame) -> Any:
            value = source(f)
            if value is None:
                return None
            kept = []
            for item in value if isinstance(value, list) else [value]:
                f.state.tick()
                verdict = match(f.at(ItemScope(item, f.root)))
                if verdict is True:
                    kept.append(item)
                elif verdict is not None and verdict is not False:
                    f.state.warn(
                        f"{where}: the match of an item is {type_name(verdict)}, not a boolean; the filter gave null"
                    )
                    return None
            f.state.allocate(len(kept))
            return kept

        return run

    def iterator(self, expr: BoxedIterator, where: str) -> Value:
        source = self.expression(expr.source, f"{where}, in")
        variable, kind = expr.variable, expr.iterator
        with self.scoped([variable, "partial"] if kind == "for" else [variable]):
            body = self.expression(expr.body, f"{where}, {'return' if kind == 'for' else 'satisfies'}")

        def run(f: Frame) -> Any:
            value = source(f)
            if value is None:
                return None
            items = value if isinstance(value, list) else [value]
            if kind == "for":
                result: list[Any] = []
                for item in items:
                    f.state.tick()
                    result.append(body(f.at(f.root.child({variable: item, "partial": result}))))
                    check_items(len(result))
                f.state.allocate(len(result))
                return result
            some = kind == "some"
            found = False
            for item in items:
                f.state.tick()
                verdict = body(f.at(f.root.child({variable: item})))
                if not isinstance(verdict, bool) and verdict is not None:
                    f.state.warn(f"{where}: 'satisfies' gave {type_name(verdict)}, not a boolean; the {kind} gave null")
                    return None
                if (verdict is True) is some:
                    found = True
            return found if some else not found

        return run

    def service_call(self, expr: ServiceCall) -> Value:
        """A decision service evaluated as a decision: its parameters come from the variables."""
        service_id = expr.service

        def run(f: Frame) -> Any:
            fn = f.bound.get(f"service:{service_id}")
            if not isinstance(fn, Function):
                raise FeelError(f"decision service {service_id!r} is not part of this model")
            return fn.call(f.state, [f.top.lookup(p) for p in fn.params])

        return run

    # ------------------------------------------------------------ BKMs and decision services

    def bkm(self, bkm: BusinessKnowledgeModel) -> CompiledKnowledge:
        self.decision_id = bkm.id
        self.owner = Decision(bkm.id, bkm.name, bkm.variable, bkm.logic)
        with self.scoped([bkm.variable]):
            make = self.function(bkm.logic, f"business knowledge model {bkm.name!r}")

        def build(f: Frame) -> Function:
            fn = make(f.scope_of(bkm.prefix))
            return Function(bkm.variable, fn.call, fn.params)

        return CompiledKnowledge(bkm.id, bkm.variable, bkm.prefix, build)

    def service(
        self, service: DecisionService, model: DecisionModel, decisions: tuple[CompiledDecision, ...]
    ) -> CompiledKnowledge:
        by_id = {d.id: d for d in model.decisions}
        inputs = [by_id[i] for i in service.input_decisions if i in by_id]
        data = {i.id: i for i in model.input_data}
        params = tuple(data[i].name for i in service.input_data if i in data) + tuple(d.variable for d in inputs)
        type_refs = [data[i].type_ref for i in service.input_data if i in data] + [d.result_type for d in inputs]
        typed = [(i, t) for i, t in enumerate(type_refs) if t and self.types.known(t)]
        plan = evaluation_order(model.decisions, list(service.outputs), service.input_decisions)
        outputs = [by_id[o].variable for o in service.outputs if o in by_id]
        compiled_model = CompiledModel(model, decisions, plan=plan)
        types = self.types
        name = service.variable
        output_type = types.function_output(service.type_ref)

        def build(f: Frame) -> Function:
            def call(state: EvalState, args: list[Any]) -> Any:
                values = _arguments(state, f"decision service {name!r}", params, args, typed, types)
                if values is None:
                    return None
                if f.hooks is None:
                    raise FeelError("decision services need the decision evaluator")
                with _nested_call(state):
                    inner = Frame({}, state, f.runner, f.hooks, f.types, f.aliases)  # its parameters only
                    state.host = f
                    for key, value in f.bound.items():
                        if isinstance(value, Function):  # and the BKMs and services
                            inner.bind(key, value)
                    inner.namespaces.update(f.namespaces)
                    for pname, value in zip(params, values, strict=True):
                        inner.bind(pname, value)
                    try:
                        f.hooks.decisions(inner, compiled_model, plan)
                    finally:
                        state.host = f
                results = {o: inner.bound.get(o) for o in outputs}
                result = next(iter(results.values())) if len(results) == 1 else results
                if output_type and types.known(output_type):
                    return types.conform(result, output_type, f"decision service {name!r}, result")
                return result

            return Function(name, call, params)

        return CompiledKnowledge(service.id, name, service.prefix, build)
