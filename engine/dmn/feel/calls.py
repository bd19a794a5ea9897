"""Calling functions, with the standard's null semantics: a call that cannot work is null, with a warning.

A built-in with the wrong argument count or an unknown parameter name is null (decided when the text is
compiled, so it costs nothing per call); a built-in that rejects its arguments (`upper case(5)`), a value
that is not a function, and a user function called with the wrong arguments are null when they run. Only a
FeelLimit (a hard bound) goes through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.functions.library import Builtin
from engine.dmn.feel.scope import Fn, Scope
from engine.dmn.feel.state import EvalState
from engine.dmn.feel.values import Function, type_name


def null_with_warning(message: str) -> Fn:
    """A closure that is null, warning that `message` is why."""

    def run(s: Scope) -> None:
        s.state.warn(f"{message}; the result is null")

    return run


def nullable(fn: Fn, what: str) -> Fn:
    """`fn`, except that an error other than a hard bound makes it null with a warning naming `what`."""

    def run(s: Scope) -> Any:
        try:
            return fn(s)
        except FeelLimit:
            raise
        except FeelError as err:
            s.state.warn(f"{what}: {err}; the result is null")
            return None

    return run


def builtin_call(builtin: Builtin, args: list[Fn], named: Sequence[tuple[str, Fn]]) -> Fn:
    """A call of a built-in with compiled positional and named arguments."""
    if named:
        try:
            args = _place_named(builtin, args, named)
        except _BadCall as err:
            return null_with_warning(str(err))
    count = len(args)
    if not builtin.accepts(count):
        return null_with_warning(f"{builtin.name}() takes {builtin.arity()}, not {count}")
    impl, nulls, needs_state, name = builtin.impl, builtin.nulls, builtin.needs_state, builtin.name

    def run(s: Scope, given: list[Any] | None = None) -> Any:
        values = [a(s) for a in args] if given is None else given
        if not nulls and any(v is None for v in values):
            return None
        try:
            result = impl(s.state, *values) if needs_state else impl(*values)
        except FeelLimit:
            raise
        except FeelError as err:
            if given is None and any(type(v) is list and len(v) == 1 for v in values):  # a singleton list: its item
                return run(s, [v[0] if type(v) is list and len(v) == 1 else v for v in values])
            s.state.warn(f"{err}; the result of {name}() is null")
            return None
        if type(result) is str or type(result) is list:  # each function sized its result; count what it built
            s.state.allocate(len(result))
        return result

    return run


def builtin_value(builtin: Builtin) -> Function:
    """A built-in as a value (`{f: abs}.f(-1)`, a BKM's parameter given `sqrt`), called like any function."""

    def call(state: EvalState, values: list[Any]) -> Any:
        placeholders: list[Fn] = [_null] * len(values)
        if not builtin.accepts(len(values)):
            raise FeelError(f"{builtin.name}() takes {builtin.arity()}, not {len(values)}")
        run: Any = builtin_call(builtin, placeholders, ())
        return run(Scope({}, None, state), list(values))

    params = tuple(p.split("|")[0] for p in builtin.params)
    return Function(builtin.name, call, params, builtin.variadic)


def _null(s: Scope) -> None:
    return None


class _BadCall(Exception):
    """Named arguments that do not fit the function's parameters."""


def _place_named(builtin: Builtin, args: list[Fn], named: Sequence[tuple[str, Fn]]) -> list[Fn]:
    """Positional and named arguments in parameter order; a parameter left out is null."""
    slots: list[Fn | None] = list(args) + [None] * max(0, len(builtin.params) - len(args))
    for key, value in named:
        index = builtin.position(key)
        if index is None:
            raise _BadCall(f"{builtin.name}() has no parameter {key!r}")
        if slots[index] is not None:
            raise _BadCall(f"{builtin.name}(): {key!r} is given twice")
        slots[index] = value
    while len(slots) > builtin.required and slots[-1] is None:  # optional parameters left out
        slots.pop()
    return [_null if slot is None else slot for slot in slots]


def value_call(function: Fn, args: list[Fn], named: Sequence[tuple[str, Fn]], what: str) -> Fn:
    """A call of whatever `function` computes (a user function, a business knowledge model); null if it is not
    a function or does not accept the arguments."""

    def run(s: Scope) -> Any:
        value = function(s)
        if not isinstance(value, Function):
            s.state.warn(f"{what}: {type_name(value)} is not a function; the call is null")
            return None
        values = [a(s) for a in args]
        if named:
            values = _named_values(value, values, [(k, f(s)) for k, f in named])
        return value.call(s.state, values)

    return nullable(run, f"{what}()")


def _named_values(function: Function, values: list[Any], named: list[tuple[str, Any]]) -> list[Any]:
    result = list(values) + [None] * max(0, len(function.params) - len(values))
    for key, value in named:
        if key not in function.params:
            raise FeelError(f"function has no parameter {key!r}")
        result[function.params.index(key)] = value
    return result
