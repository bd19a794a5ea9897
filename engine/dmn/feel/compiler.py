"""Turns FEEL syntax trees into Python closures `fn(scope) -> value` (no eval, no exec).

Compiling resolves what can be known before any data arrives: built-in functions and their
arity, named arguments, temporal literals. Only text that does not parse is a syntax error
(reported when a model is deployed). As the standard says, a call that cannot work (an unknown
function, a wrong argument count or name, arguments of the wrong type), an invalid `@"..."`
literal and arithmetic or comparison of values that do not combine are null at run time, with
a warning in the evaluation's trace; only a FeelLimit (a hard bound) stops an evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.dmn.feel import nodes as n
from engine.dmn.feel.calls import builtin_call, builtin_value, null_with_warning, nullable, value_call
from engine.dmn.feel.errors import FeelError, FeelLimit, FeelSyntaxError
from engine.dmn.feel.functions.builtins import BUILTINS
from engine.dmn.feel.iteration import apply_filter, bindings
from engine.dmn.feel.matching import ORDER, any_of, invert, literal_constant, matches_value, one_of_literals
from engine.dmn.feel.names import TYPE_NAMES
from engine.dmn.feel.properties import read_property
from engine.dmn.feel.scope import Fn, Scope, Test
from engine.dmn.feel.state import MAX_CALL_DEPTH, EvalState, check_items
from engine.dmn.feel.temporal import parse_temporal
from engine.dmn.feel.types import is_instance
from engine.dmn.feel.values import (
    ARITHMETIC,
    OPEN,
    Function,
    NotEqualTo,
    Range,
    compare,
    equal,
    in_range,
    negate,
    type_name,
)


@dataclass
class Env:
    """What the compiler knows while it walks one text."""

    source: str
    bound: frozenset[str] = frozenset()
    free: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # names called as functions that are neither built-in nor bound

    def inner(self, names: tuple[str, ...] | list[str]) -> Env:
        return Env(self.source, self.bound | set(names), self.free, self.calls)

    def error(self, reason: str, node: n.Node) -> FeelSyntaxError:
        return FeelSyntaxError(reason, self.source, node.start)


# ---------------------------------------------------------------- expressions


def compile_node(node: n.Node, env: Env) -> Fn:
    """A closure computing `node`; raises FeelSyntaxError for what can never work."""
    handler = _HANDLERS.get(type(node))
    if handler is None:
        raise env.error(f"{type(node).__name__} is not an expression here", node)
    return handler(node, env)


def _literal(node: n.Literal, env: Env) -> Fn:
    value = node.value
    return lambda s: value


def _name(node: n.Name, env: Env) -> Fn:
    name = node.name
    if name not in env.bound:
        env.free.add(name)
    if name in BUILTINS:  # a built-in function as a value, unless a variable has its name
        function = builtin_value(BUILTINS[name])
        return lambda s: s.lookup(name, function)
    return lambda s: s.lookup(name)


def _input(node: n.InputValue, env: Env) -> Fn:
    return lambda s: s.input


def _temporal(node: n.TemporalLiteral, env: Env) -> Fn:
    try:
        value = parse_temporal(node.text)
    except FeelError as err:
        return null_with_warning(f"@{node.text!r}: {err}")
    return lambda s: value


def _path(node: n.Path, env: Env) -> Fn:
    target, name = compile_node(node.target, env), node.name
    return lambda s: read_property(s.state, target(s), name)


def _filter(node: n.Filter, env: Env) -> Fn:
    target = compile_node(node.target, env)
    condition = compile_node(node.condition, env.inner(["item"]))

    def run(s: Scope) -> Any:
        value = target(s)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        return apply_filter(s, items, condition)

    return run


def _call(node: n.Call, env: Env) -> Fn:
    target = node.function
    args = [compile_node(a, env) for a in node.args]
    named = [(k, compile_node(v, env)) for k, v in node.named]
    if isinstance(target, n.Name) and target.name not in env.bound:
        if target.name in BUILTINS:
            return builtin_call(BUILTINS[target.name], args, named)
        env.calls.add(target.name)
    what = target.name if isinstance(target, n.Name) else "function"
    return value_call(compile_node(target, env), args, named, what)


def _negate(node: n.Negate, env: Env) -> Fn:
    operand = compile_node(node.operand, env)
    return lambda s: negate(operand(s))


def _arithmetic(node: n.Arithmetic, env: Env) -> Fn:
    left, right, op, symbol = compile_node(node.left, env), compile_node(node.right, env), ARITHMETIC[node.op], node.op
    if symbol != "+":

        def run(s: Scope) -> Any:
            try:
                return op(left(s), right(s))
            except FeelLimit:
                raise
            except FeelError as err:
                s.state.warn(f"{symbol}: {err}; the result is null")
                return None

        return run

    def plus(s: Scope) -> Any:
        a, b = left(s), right(s)
        try:
            result = op(a, b)
        except FeelLimit:
            raise
        except FeelError as err:
            s.state.warn(f"{type_name(a)} + {type_name(b)}: {err}; the result is null")
            return None
        if type(result) is str:  # `+` joins strings: count what it built
            s.state.allocate(len(result))
        return result

    return plus


def _comparison(node: n.Comparison, env: Env) -> Fn:
    left, right = compile_node(node.left, env), compile_node(node.right, env)
    if node.op in ("=", "!="):
        negate = node.op == "!="

        def same(s: Scope) -> bool | None:
            a, b = left(s), right(s)
            if type(a) is type(b) or a is None or b is None:
                return equal(a, b) is not negate
            if type_name(a) != type_name(b):
                s.state.warn(f"{type_name(a)} {node.op} {type_name(b)}: values of different types; the result is null")
                return None
            return equal(a, b) is not negate

        return same
    check = ORDER[node.op]

    def run(s: Scope) -> bool | None:
        try:
            result = compare(left(s), right(s))
        except FeelLimit:
            raise
        except FeelError as err:
            s.state.warn(f"{err}; the comparison is null")
            return None
        return None if result is None else check(result)

    return run


def _logical(node: n.Logical, env: Env) -> Fn:
    operands = [compile_node(o, env) for o in node.operands]
    stop: bool = node.op == "or"  # `or` stops at true, `and` at false
    stopped: bool | None = stop

    def run(s: Scope) -> bool | None:
        unknown = False
        for operand in operands:
            value = operand(s)
            if value is stop:
                return stopped
            if not isinstance(value, bool):
                unknown = True
        return None if unknown else not stop

    return run


def _between(node: n.Between, env: Env) -> Fn:
    value, low, high = (compile_node(x, env) for x in (node.value, node.low, node.high))

    def run(s: Scope) -> bool | None:
        v = value(s)
        below, above = compare(low(s), v), compare(v, high(s))
        if below is not None and below > 0 or above is not None and above > 0:
            return False
        return None if below is None or above is None else True

    return run


def _in(node: n.In, env: Env) -> Fn:
    value = compile_node(node.value, env)
    tests = any_of([compile_test(t, env) for t in node.tests])
    return lambda s: tests(s.with_input(value(s)))


def _instance_of(node: n.InstanceOf, env: Env) -> Fn:
    value, spec = compile_node(node.value, env), node.type_name
    if not _names_item_definition(spec):
        return lambda s: is_instance(value(s), spec)

    return lambda s: _conforms(s.state, value(s), spec)  # an item definition's name: the evaluator knows them


def _conforms(state: EvalState, value: Any, spec: Any) -> bool:
    check = state.item_types
    if check is None or not _names_item_definition(spec):
        return is_instance(value, spec)
    return is_instance(value, spec, lambda v, t: None if t in TYPE_NAMES else check(v, t))


def _names_item_definition(spec: Any) -> bool:
    """Whether a type (`t_person`, `list<t_person>`, ...) names something that is not one of FEEL's types."""
    if isinstance(spec, str):
        return spec not in TYPE_NAMES
    if spec[0] == "context":
        return any(_names_item_definition(inner) for _, inner in spec[1])
    if spec[0] == "function":
        return any(map(_names_item_definition, spec[1])) or _names_item_definition(spec[2])
    return _names_item_definition(spec[1])


def _if(node: n.If, env: Env) -> Fn:
    condition, then, otherwise = (compile_node(x, env) for x in (node.condition, node.then, node.otherwise))
    return lambda s: then(s) if condition(s) is True else otherwise(s)


def _iterations(node: n.For | n.Quantified, env: Env) -> tuple[list[tuple[str, Fn, Fn | None]], Env]:
    compiled = []
    inner = env
    for it in node.iterations:
        compiled.append((it.name, compile_node(it.source, inner), compile_node(it.end, inner) if it.end else None))
        inner = inner.inner([it.name])
    return compiled, inner


def _for(node: n.For, env: Env) -> Fn:
    iterations, inner = _iterations(node, env)
    known = "partial" in env.free
    body = compile_node(node.body, inner)
    partial = "partial" in env.free and not known  # the body reads `partial`, the results so far
    if partial:
        env.free.discard("partial")

    def run(s: Scope) -> list[Any]:
        result: list[Any] = []
        for scope in bindings(s, iterations):
            if partial:
                scope.values.setdefault("partial", result)
            result.append(body(scope))
            check_items(len(result))
        s.state.allocate(len(result))
        return result

    return nullable(run, "for")


def _quantified(node: n.Quantified, env: Env) -> Fn:
    iterations, inner = _iterations(node, env)
    condition = compile_node(node.condition, inner)
    some = node.kind == "some"

    def run(s: Scope) -> bool:
        for scope in bindings(s, iterations):
            if (condition(scope) is True) is some:
                return some
        return not some

    return run


def _list(node: n.ListExpr, env: Env) -> Fn:
    items = [compile_node(i, env) for i in node.items]
    return lambda s: [item(s) for item in items]


def _context(node: n.ContextExpr, env: Env) -> Fn:
    entries = []
    inner = env
    keys = [key for key, _ in node.entries]
    if len(set(keys)) < len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        return null_with_warning(f"context key {twice!r} appears twice")
    for key, value in node.entries:
        inner = inner.inner([key]) if isinstance(value, n.FunctionDef) else inner  # a function may call itself
        entries.append((key, compile_node(value, inner)))
        inner = inner.inner([key])

    def run(s: Scope) -> dict[str, Any]:
        result: dict[str, Any] = {}
        scope = s.child(result)
        for key, value in entries:
            result[key] = value(scope)
        return result

    return run


def _range(node: n.RangeExpr, env: Env) -> Fn:
    low = compile_node(node.low, env) if node.low is not None else (lambda s: OPEN)  # `< 10`: no start at all
    high = compile_node(node.high, env) if node.high is not None else (lambda s: OPEN)
    low_closed, high_closed, point = node.low_closed, node.high_closed, node.point
    return lambda s: Range(low(s), high(s), low_closed, high_closed, point)


def _not_equal_value(node: n.NotEqualValue, env: Env) -> Fn:
    operand = compile_node(node.operand, env)
    return lambda s: NotEqualTo(operand(s))


def _function(node: n.FunctionDef, env: Env) -> Fn:
    params = node.params
    body = compile_node(node.body, env.inner(params))
    typed = [(i, spec) for i, spec in enumerate(node.types) if spec is not None]

    def run(s: Scope) -> Function:
        def call(state: EvalState, args: list[Any]) -> Any:
            if len(args) != len(params):
                raise FeelError(f"function takes {len(params)} arguments, not {len(args)}")
            for i, spec in typed:  # null conforms to every type
                if args[i] is not None and not _conforms(state, args[i], spec):
                    raise FeelError(f"argument {params[i]!r} is a {type_name(args[i])}, not of the parameter's type")
            state.depth += 1
            state.tick()  # recursion without a loop (`f(n - 1) + f(n - 2)`) is work too
            try:
                if state.depth > MAX_CALL_DEPTH:
                    raise FeelLimit(f"functions call each other more than {MAX_CALL_DEPTH} levels deep")
                return body(s.child(dict(zip(params, args, strict=True))))
            finally:
                state.depth -= 1

        return Function("function", call, params)

    return run


_HANDLERS: dict[type, Callable[[Any, Env], Fn]] = {
    n.Literal: _literal,
    n.Name: _name,
    n.InputValue: _input,
    n.TemporalLiteral: _temporal,
    n.Path: _path,
    n.Filter: _filter,
    n.Call: _call,
    n.Negate: _negate,
    n.Arithmetic: _arithmetic,
    n.Comparison: _comparison,
    n.Logical: _logical,
    n.Between: _between,
    n.In: _in,
    n.InstanceOf: _instance_of,
    n.If: _if,
    n.For: _for,
    n.Quantified: _quantified,
    n.ListExpr: _list,
    n.ContextExpr: _context,
    n.RangeExpr: _range,
    n.NotEqualValue: _not_equal_value,
    n.FunctionDef: _function,
}


# ---------------------------------------------------------------- unary tests (how they match: matching.py)


def compile_test(node: n.Node, env: Env) -> Test:
    """A closure telling whether `scope.input` passes the test: True, False or None (unknown)."""
    if isinstance(node, n.AnyTest):
        return lambda s: True
    if isinstance(node, n.CompareTest):
        return _compare_test(node, env)
    if isinstance(node, n.RangeTest):
        return _range_test(node, env)
    if isinstance(node, n.ExprTest):
        return _expr_test(node, env)
    if isinstance(node, n.Tests):
        return one_of_literals(node) or any_of([compile_test(t, env) for t in node.tests])
    if isinstance(node, n.NotTests):
        inner = compile_test(node.tests, env)
        return lambda s: invert(inner(s))
    raise env.error(f"{type(node).__name__} is not a unary test", node)


def _range_test(node: n.RangeTest, env: Env) -> Test:
    span_fn = compile_node(node.range, env)
    (low_known, low), (high_known, high) = literal_constant(node.range.low), literal_constant(node.range.high)
    if not (low_known and high_known and type(low) is type(high)):
        return lambda s: in_range(s.input, span_fn(s))
    span = Range(low, high, node.range.low_closed, node.range.high_closed)
    kind, low_closed, high_closed = type(low), span.low_closed, span.high_closed

    def run(s: Scope) -> bool | None:  # the common case: literal bounds, an input of their type
        value = s.input
        if type(value) is not kind:
            return in_range(value, span)
        if value < low or (value == low and not low_closed):
            return False
        return value < high or (value == high and high_closed)

    return run


def _compare_test(node: n.CompareTest, env: Env) -> Test:
    endpoint = compile_node(node.endpoint, env)
    known, constant = literal_constant(node.endpoint)
    if known and node.op in ORDER:
        kind, check = type(constant), ORDER[node.op]

        def fast(s: Scope) -> bool | None:
            value = s.input
            if type(value) is kind:
                return check((value > constant) - (value < constant))
            result = compare(value, constant)
            return None if result is None else check(result)

        return fast
    if node.op == "=":
        return lambda s: equal(s.input, endpoint(s))
    if node.op == "!=":
        return lambda s: not equal(s.input, endpoint(s))
    check = ORDER[node.op]

    def run(s: Scope) -> bool | None:
        result = compare(s.input, endpoint(s))
        return None if result is None else check(result)

    return run


def _expr_test(node: n.ExprTest, env: Env) -> Test:
    expr = compile_node(node.expr, env)
    if node.uses_input:
        return lambda s: (lambda v: v if isinstance(v, bool) else None)(expr(s))
    if isinstance(node.expr, n.Literal) and isinstance(node.expr.value, bool):
        flag = node.expr.value
        return lambda s: (s.input is flag) if type(s.input) is bool else matches_value(s.input, flag)
    if isinstance(node.expr, n.Literal):
        literal = node.expr.value
        return lambda s: equal(s.input, literal)
    return lambda s: matches_value(s.input, expr(s))
