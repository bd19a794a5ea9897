"""The in-process fast path: code whose cost is bounded by its construction.

`shape` decides from the AST (once per text, cached with the compiled code) that code has no
loops, comprehensions, lambdas, function or class definitions, f-strings, `try`, `print`, walrus or
augmented assignment, writes only plain names (a script), calls only `FAST_CALLS` and `FAST_METHODS`
(each costs at most linear time in its input and returns a result no larger than it), and has at most
`MAX_NODES` nodes. Such code runs in the calling thread, with `fast_guards`: every operation that
could grow a value charges a per-evaluation allowance (`ALLOWANCE` items, ints up to `FAST_INT_BITS`),
and refuses what only the isolated path may do (`%` formatting, repeating or, in a script,
concatenating lists). When a guard would go past that, it raises `NeedsIsolation` and the sandbox runs
the whole evaluation again in a worker process (`isolation`): nothing was written back yet, since the
fast path changes no object it did not create (a script's names live in its own namespace until the end).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.spiff.expressions.deadline import current
from engine.spiff.expressions.limits import SandboxError, check_divide, check_lshift, check_pow
from engine.spiff.expressions.safe_builtins import SAFE_BUILTINS

MAX_NODES = 400  # AST nodes of code the fast path takes
ALLOWANCE = 100_000  # items (characters, list entries) one fast evaluation may create in all
FAST_INT_BITS = 20_000  # largest int one fast operation may create or divide (~6,000 digits)

FAST_CALLS = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "chr",
        "date",
        "datetime",
        "Decimal",
        "feel",
        "float",
        "int",
        "isinstance",
        "len",
        "max",
        "min",
        "ord",
        "round",
        "sum",
        "timedelta",
        "var",
    }
)
_SCRIPT_CALLS = frozenset({"set_var"})
FAST_METHODS = frozenset(
    {
        "count",
        "date",
        "endswith",
        "find",
        "fromisoformat",
        "get",
        "index",
        "isalnum",
        "isalpha",
        "isdigit",
        "isoformat",
        "items",
        "keys",
        "lower",
        "lstrip",
        "now",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "timestamp",
        "today",
        "upper",
        "values",
        "weekday",
    }
)
_KEYWORDS = frozenset({"default", "required", "ndigits", "days", "seconds", "hours", "minutes", "weeks"})
_NEVER = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.NamedExpr,
    ast.AugAssign,
    ast.Try,
    ast.TryStar,
    ast.With,
    ast.AsyncWith,
    ast.Match,
    ast.Global,
    ast.Nonlocal,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
)
_SCRIPT_DISPLAYS = (ast.List, ast.Set, ast.Dict)  # in a script, names could share them exponentially
_SCALARS = (int, float, bool, str, bytes, Decimal, date, datetime, time, timedelta, type(None))


class NeedsIsolation(BaseException):  # noqa: N818 -- a signal, not an error; BaseException: never caught by code
    """Raised by a fast guard: this evaluation must run again in a worker process."""


def shape(tree: ast.AST, mode: str) -> frozenset[str] | None:
    """The names `tree` calls if it has the shape of fast code (see the module), else None.

    The code is fast if, besides, every name is one of `fast_calls(...)` and none is shadowed by data.
    """
    called: set[str] = set()
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > MAX_NODES or isinstance(node, _NEVER):
            return None
        if mode == "exec" and not _script_node_ok(node):
            return None
        if isinstance(node, ast.Call):
            if any(k.arg not in _KEYWORDS for k in node.keywords):
                return None
            func = node.func
            if isinstance(func, ast.Name):
                called.add(func.id)
            elif not (isinstance(func, ast.Attribute) and func.attr in FAST_METHODS):
                return None
    return frozenset(called)


def fast_calls(helpers: frozenset[str], script: bool) -> frozenset[str]:
    """The names fast code may call: FAST_CALLS, the environment's helpers (trusted), set_var in scripts."""
    return FAST_CALLS | helpers | (_SCRIPT_CALLS if script else frozenset())


def _script_node_ok(node: ast.AST) -> bool:
    if isinstance(node, _SCRIPT_DISPLAYS) or (isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Load)):
        return False
    if isinstance(node, ast.Subscript | ast.Attribute) and not isinstance(node.ctx, ast.Load):
        return False  # a write into an object: the fast path must not change what it did not create
    return True


def _charge(items: int) -> None:
    left: int = current.allowance - items
    if left < 0:
        raise NeedsIsolation
    current.allowance = left


def _bits_ok(check: Callable[..., None], *args: Any) -> None:
    try:
        check(*args)
    except SandboxError:
        raise NeedsIsolation from None


def _seq_with_containers(value: Any) -> bool:
    return isinstance(value, list | tuple) and not all(isinstance(v, _SCALARS) for v in value)


def _make_add(script: bool) -> Callable[[Any, Any], Any]:
    def fast_add(a: Any, b: Any) -> Any:
        if isinstance(a, str | bytes | list | tuple) and isinstance(b, str | bytes | list | tuple):
            if script and isinstance(a, list | tuple):
                raise NeedsIsolation  # `b = a + a` in a script can double a shared structure each line
            _charge(len(a) + len(b))
        return a + b

    return fast_add


def _make_mul(script: bool) -> Callable[[Any, Any], Any]:
    def fast_mul(a: Any, b: Any) -> Any:
        seq, times = (a, b) if isinstance(b, int) else (b, a)
        if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
            if isinstance(seq, list | tuple) and (script or _seq_with_containers(seq)):
                raise NeedsIsolation  # shared references: small to build, huge to compare or print
            _charge(len(seq) * max(times, 0))
        elif isinstance(a, int) and isinstance(b, int):
            _bits_ok(_fast_bits, a.bit_length() + b.bit_length())
        return a * b

    return fast_mul


def _fast_bits(bits: int) -> None:
    if bits > FAST_INT_BITS:
        raise NeedsIsolation


def _fast_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        raise NeedsIsolation  # `%` formatting converts its arguments to text: the isolated path
    if isinstance(a, int) and isinstance(b, int):
        _fast_bits(max(a.bit_length(), b.bit_length()))
    return a % b


def _fast_pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _fast_bits(a.bit_length() * b)
    _bits_ok(check_pow, a, b)
    return a**b


def _fast_lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _fast_bits(a.bit_length() + b)
    _bits_ok(check_lshift, a, b)
    return a << b


def _fast_floordiv(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        _fast_bits(max(a.bit_length(), b.bit_length()))
    _bits_ok(check_divide, a, b)
    return a // b


_sum = SAFE_BUILTINS["sum"]


def _fast_sum(items: Any, /, start: Any = 0) -> Any:
    if not isinstance(start, int | float | Decimal):
        raise NeedsIsolation  # sum of sequences is quadratic
    return _sum(items, start)


def fast_builtins(base: dict[str, Any], script: bool) -> dict[str, Any]:
    """`base` (the builtins and guards of the isolated path) with the fast path's guards."""
    return {
        **base,
        "sum": _fast_sum,
        "_add_": _make_add(script),
        "_mul_": _make_mul(script),
        "_mod_": _fast_mod,
        "_pow_": _fast_pow,
        "_lshift_": _fast_lshift,
        "_floordiv_": _fast_floordiv,
    }
