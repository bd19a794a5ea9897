"""The guard functions RestrictedPython's compiled code calls (`_getattr_`, `_write_`, `_inplacevar_`, the
arithmetic guards, ...): they refuse private attributes, writes outside task data and results too large."""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from types import ModuleType
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from engine.spiff.expressions.deadline import tick
from engine.spiff.expressions.limits import (
    SEQUENCES,
    SandboxError,
    ScriptTimeout,
    check_add,
    check_decimal,
    check_divide,
    check_format_spec,
    check_items,
    check_lshift,
    check_mod,
    check_mul,
    check_pow,
    no_check,
)

_CONTAINERS = (list, dict, set)
# RestrictedPython's safer_getattr refuses "_" names, INSPECT_ATTRIBUTES and str.format*;
# _guarded_getattr applies the same rules in one frame (each frame costs ~1 us while traced).
_DENIED_ATTRIBUTES = INSPECT_ATTRIBUTES | {
    "as_integer_ratio",
    "format",
    "format_map",
    "from_bytes",
    "mro",
    "to_bytes",
}
_MUTATORS = frozenset(
    {
        "add",
        "append",
        "clear",
        "difference_update",
        "discard",
        "extend",
        "insert",
        "intersection_update",
        "pop",
        "popitem",
        "remove",
        "reverse",
        "setdefault",
        "sort",
        "symmetric_difference_update",
        "update",
    }
)
_CONVERSIONS: dict[int, Callable[[Any], str]] = {ord("s"): str, ord("r"): repr, ord("a"): ascii}


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
        check_items(len(a) + len(b), "concatenation")
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) or isinstance(b, int):
        check_mul(a, b)
    return a * b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes | int):
        check_mod(a, b)
    return a % b


def _power(a: Any, b: Any) -> Any:
    check_pow(a, b)
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    check_lshift(a, b)
    return a << b


def _floordiv(a: Any, b: Any) -> Any:
    check_divide(a, b)
    return a // b


BINOP_GUARDS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("_add_", _add),
    ast.Mult: ("_mul_", _mul),
    ast.Mod: ("_mod_", _mod),
    ast.Pow: ("_pow_", _power),
    ast.LShift: ("_lshift_", _lshift),
    ast.FloorDiv: ("_floordiv_", _floordiv),
}

_INPLACE: dict[str, tuple[Callable[[Any, Any], None], Callable[[Any, Any], Any]]] = {
    "+=": (check_add, operator.iadd),
    "-=": (no_check, operator.isub),
    "*=": (check_mul, operator.imul),
    "/=": (no_check, operator.itruediv),
    "//=": (check_divide, operator.ifloordiv),
    "%=": (check_mod, operator.imod),
    "**=": (check_pow, operator.ipow),
    "<<=": (check_lshift, operator.ilshift),
    ">>=": (no_check, operator.irshift),
    "&=": (no_check, operator.iand),
    "|=": (no_check, operator.ior),
    "^=": (no_check, operator.ixor),
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    try:
        check, func = _INPLACE[op]
    except KeyError:
        raise SandboxError(f"operator {op} is not supported") from None
    check(x, y)
    return func(x, y)


def _format(value: Any, conversion: int, spec: str) -> str:
    if conversion != -1:
        value = _CONVERSIONS[conversion](value)
    check_format_spec(spec)
    check_decimal(value)
    return format(value, spec)


def _except(types: Any) -> Any:
    """Filter around every `except` clause: a ScriptTimeout is never caught."""
    if isinstance(sys.exception(), ScriptTimeout):
        return ()
    tick()  # the exception may be a RecursionError that switched tracing off
    return BaseException if types is None else types


def _getiter(obj: Any) -> Any:
    tick()  # comprehensions have no body to put a tick into
    return iter(obj)


def _write(obj: Any) -> Any:
    if type(obj) in (dict, list):
        return obj
    raise SandboxError(f"cannot assign to items or attributes of a {type(obj).__name__} object")


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _pad_size(obj: Any, width: int, *rest: Any) -> int:
    return width


def _tab_size(obj: Any, tabsize: int = 8) -> int:
    size: int = len(obj) + obj.count("\t" if isinstance(obj, str) else b"\t") * tabsize
    return size


def _replace_size(obj: Any, old: Any, new: Any, count: int = -1) -> int:
    found: int = obj.count(old) if count < 0 else min(obj.count(old), count)
    return len(obj) + found * max(len(new) - len(old), 0)


def _join_size(sep: Any, items: list[Any]) -> int:
    return len(sep) * max(len(items) - 1, 0) + sum(map(len, items))


def _translate_size(obj: str, table: Any) -> int:
    values = table.values() if isinstance(table, Mapping) else ()
    return len(obj) * max((len(v) for v in values if isinstance(v, str)), default=1)


def _extend_size(obj: list[Any], items: Any) -> int:
    return len(obj) + (len(items) if hasattr(items, "__len__") else 0)


def _strftime_size(obj: date, fmt: str) -> int:
    return len(fmt) * 256  # CPython's strftime gives up at 256 times the format's length


_SIZE_ESTIMATES: dict[str, Callable[..., int]] = {
    "ljust": _pad_size,
    "rjust": _pad_size,
    "center": _pad_size,
    "zfill": _pad_size,
    "expandtabs": _tab_size,
    "replace": _replace_size,
    "join": _join_size,
    "translate": _translate_size,
    "extend": _extend_size,
    "strftime": _strftime_size,
}
_SIZED_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate"}),
    bytes: frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join"}),
    list: frozenset({"extend"}),
    date: frozenset({"strftime"}),
    datetime: frozenset({"strftime"}),
}


def _sized_method(owner: Any, name: str) -> Callable[..., Any]:
    """Wrap a str/bytes/list/date method so its result size is checked before the call."""
    unbound = getattr(owner if isinstance(owner, type) else type(owner), name)
    bound_to = () if isinstance(owner, type) else (owner,)

    def sized_call(*args: Any, **kwargs: Any) -> Any:
        full = bound_to + args
        if name == "join" and len(full) == 2:
            full = (full[0], list(full[1]))
        try:
            size = _SIZE_ESTIMATES[name](*full, **kwargs)
        except (TypeError, ValueError, AttributeError):
            size = 0  # bad arguments: the method itself raises the proper error
        check_items(size, f"result of {name}()")
        return unbound(*full, **kwargs)

    return sized_call


def make_getattr(read_only: bool) -> Callable[[Any, str], Any]:
    """Build the `_getattr_` guard; `read_only` also refuses methods that change containers."""

    def guarded_getattr(obj: Any, name: str) -> Any:
        if type(name) is not str or name[:1] == "_" or name in _DENIED_ATTRIBUTES:
            raise SandboxError(f"access to attribute {name!r} is not allowed")
        if read_only and name in _MUTATORS and (type(obj) in _CONTAINERS or obj in _CONTAINERS):
            raise SandboxError(f"{name}() would change task data: expressions must not (use a script task)")
        if isinstance(obj, ModuleType):
            raise SandboxError("modules are not available in expressions and scripts")
        if name in _SIZED_METHODS.get(obj if isinstance(obj, type) else type(obj), ()):
            return _sized_method(obj, name)
        return getattr(obj, name)

    return guarded_getattr


GUARDS: dict[str, Any] = {
    "_getitem_": operator.getitem,
    "_getiter_": _getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_write_": _write,
    "_apply_": _apply,
    "_print_": PrintCollector,
    "_format_": _format,
    "_except_": _except,
    "_tick_": tick,
    **dict(BINOP_GUARDS.values()),
}
