"""The builtins sandboxed code sees: a small safe set, size-checked versions of `range`, `sum`, `pow`, `round`,
`divmod` and `Decimal`, and our helpers (`var`, `set_var`, `feel`)."""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from copy import deepcopy
from datetime import date, datetime, timedelta, timezone
from types import ModuleType
from typing import Any

from engine.spiff.expressions import feel_calls
from engine.spiff.expressions.deadline import current
from engine.spiff.expressions.limits import (
    MAX_INT_BITS,
    MAX_ITEMS,
    SEQUENCES,
    SandboxError,
    check_bits,
    check_decimal,
    check_divide,
    check_items,
    check_pow,
)

DENIED_NAMES = frozenset(
    {
        "__import__",
        "breakpoint",
        "bytearray",
        "classmethod",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "format",
        "getattr",
        "globals",
        "hasattr",
        "help",
        "input",
        "iter",
        "locals",
        "memoryview",
        "object",
        "open",
        "property",
        "quit",
        "setattr",
        "staticmethod",
        "super",
        "type",
        "vars",
    }
)


def _range(*args: Any) -> range:
    result = range(*args)
    try:
        length = len(result)
    except OverflowError:
        length = MAX_ITEMS + 1
    check_items(length, "range")
    return result


def _sum(items: Iterable[Any], /, start: Any = 0) -> Any:
    if not isinstance(start, SEQUENCES):
        return sum(items, start)
    items = list(items)
    try:
        check_items(len(start) + sum(map(len, items)), "sum of sequences")
    except TypeError:
        pass  # sum() raises the proper error
    return sum(items, start)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    check_pow(base, exp, mod)
    return pow(base, exp) if mod is None else pow(base, exp, mod)


def _round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        check_decimal(number)
        return round(number)
    if isinstance(number, int) and isinstance(ndigits, int) and -ndigits * 4 > MAX_INT_BITS:
        raise SandboxError("round() to that many digits is not allowed")
    return round(number, ndigits)


def _divmod(a: Any, b: Any) -> Any:
    check_divide(a, b)
    return divmod(a, b)


def _var(name: str, default: Any = None, *, required: bool = False) -> Any:
    """Return the task data value `name` (which may hold spaces), or `default` when it is not set;
    with `required`, raises NameError when it is not set."""
    if not isinstance(name, str) or name.startswith("_"):
        raise SandboxError("var() needs the name of a task data variable")
    namespace = getattr(current, "namespace", None) or {}
    if required and name not in namespace:
        raise NameError(f"variable {name!r} is not set", name=name)
    value = namespace.get(name, default)
    if callable(value) or isinstance(value, ModuleType):
        return default  # a builtin of the sandbox, not task data
    return value


MAX_PATH = 8


def assign_path(data: dict[str, Any], target: str, value: Any) -> None:
    """Set `target` in `data`: a name (which may hold spaces), or names joined by dots, a path into nested objects
    created when missing (Camunda 8 mapping targets: `from.email`); raises SandboxError for a name starting with
    '_', a path through a value that is not an object, or one deeper than MAX_PATH."""
    parts = target.split(".") if isinstance(target, str) else []
    if not parts or len(parts) > MAX_PATH or any(not p or p.startswith("_") for p in parts):
        raise SandboxError(f"cannot set {target!r}: a target is names (not starting with '_') joined by dots")
    for i, part in enumerate(parts[:-1]):
        inner = data.get(part)
        if inner is None:
            inner = data[part] = {}
        elif not isinstance(inner, dict):
            raise SandboxError(f"cannot set {target!r}: {'.'.join(parts[: i + 1])!r} is not an object")
        data = inner
    data[parts[-1]] = value


def _set_var(target: str, value: Any) -> None:
    """Set the task data value `target` (see assign_path: names with spaces, dotted paths); raises SandboxError."""
    namespace = getattr(current, "namespace", None)
    if namespace is None:
        raise SandboxError("set_var() is available in scripts only")
    head = target.split(".", 1)[0] if isinstance(target, str) else ""
    if "." in target and isinstance(namespace.get(head), dict):
        namespace[head] = deepcopy(namespace[head])  # the write must reach the task data, not a shared object
    assign_path(namespace, target, value)


def _feel(source: str, names: list[str] | None = None) -> Any:
    """Evaluate a FEEL expression (deployed FEEL becomes this call) over the task data; raises FeelError."""
    return feel_calls.evaluate(source, names or [], getattr(current, "namespace", None) or {})


class _DecimalType(type):
    """Metaclass of the `Decimal` seen by expressions: real Decimals with bounded exponents."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, decimal.Decimal)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, decimal.Decimal)

    def __call__(cls, value: Any = "0", context: Any = None) -> decimal.Decimal:
        if isinstance(value, int):
            check_bits(value.bit_length(), "Decimal")
        result = decimal.Decimal(value, context)
        check_decimal(result)
        return result


class _Decimal(metaclass=_DecimalType):
    """Stands in for decimal.Decimal inside the sandbox."""


SAFE_BUILTINS: dict[str, Any] = {
    **{
        f.__name__: f
        for f in (
            abs,
            all,
            any,
            ascii,
            bin,
            bool,
            callable,
            chr,
            dict,
            enumerate,
            filter,
            float,
            frozenset,
            hex,
            int,
            isinstance,
            issubclass,
            len,
            list,
            map,
            max,
            min,
            next,
            oct,
            ord,
            repr,
            reversed,
            set,
            sorted,
            str,
            tuple,
            zip,
        )
    },
    **{
        e.__name__: e
        for e in (
            ArithmeticError,
            AssertionError,
            AttributeError,
            Exception,
            IndexError,
            KeyError,
            LookupError,
            NameError,
            NotImplementedError,
            OverflowError,
            RecursionError,
            RuntimeError,
            StopIteration,
            TypeError,
            UnicodeError,
            ValueError,
            ZeroDivisionError,
        )
    },
    "divmod": _divmod,
    "pow": _pow,
    "range": _range,
    "round": _round,
    "sum": _sum,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
    "Decimal": _Decimal,
    "var": _var,
    "set_var": _set_var,
    feel_calls.CALL_NAME: _feel,
}
