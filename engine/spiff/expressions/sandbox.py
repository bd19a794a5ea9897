"""Sandbox for every expression and script SpiffWorkflow evaluates.

Code is compiled with RestrictedPython under a stricter policy (no imports, classes,
generator functions, ``with`` or ``finally``). It runs with a small set of builtins and
guard functions, under a per-thread deadline (``sys.settrace`` plus a check at the top of
every loop and function body), and with size checks on the operations that could exhaust
memory or CPU inside a single C call, where no deadline can interrupt them.
"""

from __future__ import annotations

import ast
import decimal
import functools
import operator
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from datetime import date, datetime, timedelta, timezone
from types import CodeType, FrameType, ModuleType
from typing import Any, NamedTuple, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.spiff.expressions import feel_calls, loop_counters
from engine.spiff.runtime.budget import remaining_seconds

_FILENAME = "<string>"  # SpiffWorkflow reads script line numbers from frames of this name
_MAX_ITEMS = 10_000_000  # longest str/bytes/list/tuple/range one operation may create
_MAX_INT_BITS = 100_000  # largest int one operation may create or divide (~30,000 digits)
_MAX_MODPOW_BITS = 4_096  # exponent and modulus of pow(a, b, m)
_MAX_DECIMAL_EXPONENT = 4_300  # |adjusted exponent| of a Decimal: int(Decimal('1e999999')) takes 30 s
_MAX_FORMAT_SPEC = 1_000  # characters in one format spec
_COMPILE_CACHE_SIZE = 4_096

_SEQUENCES = (str, bytes, list, tuple)
_CONTAINERS = (list, dict, set)
_DENIED_NAMES = frozenset({
    "__import__", "breakpoint", "bytearray", "classmethod", "compile", "delattr", "dir", "eval",
    "exec", "exit", "format", "getattr", "globals", "hasattr", "help", "input", "iter", "locals",
    "memoryview", "object", "open", "property", "quit", "setattr", "staticmethod", "super", "type",
    "vars",
})
# RestrictedPython's safer_getattr refuses "_" names, INSPECT_ATTRIBUTES and str.format*;
# _guarded_getattr applies the same rules in one frame (each frame costs ~1 us while traced).
_DENIED_ATTRIBUTES = INSPECT_ATTRIBUTES | {
    "as_integer_ratio", "format", "format_map", "from_bytes", "mro", "to_bytes",
}
_MUTATORS = frozenset({
    "add", "append", "clear", "difference_update", "discard", "extend", "insert",
    "intersection_update", "pop", "popitem", "remove", "reverse", "setdefault", "sort",
    "symmetric_difference_update", "update",
})
_CONVERSIONS: dict[int, Callable[[Any], str]] = {ord("s"): str, ord("r"): repr, ord("a"): ascii}
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")

_monotonic = time.monotonic
_local = threading.local()  # per thread: namespace (for var()), watchdog, decimal context
_compile_lock = threading.Lock()


class SandboxError(Exception):
    """Code was refused by the sandbox (forbidden name, attribute, import or size)."""


class ScriptTimeout(SandboxError):
    """Sandboxed code ran longer than its time limit and was stopped."""


# --- size checks: refuse before a C call allocates or loops without bound ---------------------


def _check_items(size: int, what: str) -> None:
    if size > _MAX_ITEMS:
        raise SandboxError(f"{what} would be too large (limit {_MAX_ITEMS:,} items)")


def _check_bits(bits: int, what: str) -> None:
    if bits > _MAX_INT_BITS:
        raise SandboxError(f"{what} would be too large (limit {_MAX_INT_BITS:,} bits)")


def _check_number_text(digits: str, what: str) -> None:
    if len(digits) > 8 or int(digits) > _MAX_ITEMS:
        raise SandboxError(f"{what} {digits[:12]} is too large")


def _check_decimal(value: object) -> None:
    if isinstance(value, decimal.Decimal) and value.is_finite():
        if abs(value.adjusted()) > _MAX_DECIMAL_EXPONENT:
            raise SandboxError(f"Decimal exponent too large (limit {_MAX_DECIMAL_EXPONENT})")


def _no_check(a: object, b: object) -> None:
    return None


def _check_add(a: object, b: object) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_items(len(a) + len(b), "concatenation")


def _check_mul(a: object, b: object) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        _check_items(len(a) * b, "repeated sequence")
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _check_items(len(b) * a, "repeated sequence")
    elif isinstance(a, int) and isinstance(b, int):
        _check_bits(a.bit_length() + b.bit_length(), "product")


def _check_pow(base: object, exp: object, mod: object = None) -> None:
    if not (isinstance(base, int) and isinstance(exp, int)):
        return
    if isinstance(mod, int):
        if max(exp.bit_length(), mod.bit_length()) > _MAX_MODPOW_BITS:
            raise SandboxError(f"pow() with a modulus is limited to {_MAX_MODPOW_BITS}-bit numbers")
    elif exp > 0 and abs(base) > 1:
        _check_bits(base.bit_length() * exp, "power")


def _check_lshift(a: object, b: object) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _check_bits(a.bit_length() + b, "shifted number")


def _check_divide(a: object, b: object) -> None:
    if isinstance(a, int) and isinstance(b, int):  # long division is quadratic
        _check_bits(max(a.bit_length(), b.bit_length()), "operand of a division")


def _check_mod(a: object, b: object) -> None:
    if isinstance(a, str | bytes):
        _check_percent_format(a.decode("latin-1") if isinstance(a, bytes) else a, b)
    else:
        _check_divide(a, b)


def _check_percent_format(text: str, args: object) -> None:
    starred = False
    for width, precision in _PERCENT_FIELD.findall(text):
        for part in (width, precision):
            starred = starred or part == "*"
            if part.isdigit():
                _check_number_text(part, "field width")
    values = args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else (args,)
    for value in values:
        if starred and isinstance(value, int):
            _check_items(value, "field width")
        _check_decimal(value)


def _check_format_spec(spec: str) -> None:
    if len(spec) > _MAX_FORMAT_SPEC:
        raise SandboxError(f"format spec longer than {_MAX_FORMAT_SPEC} characters")
    for digits in _DIGITS.findall(spec):
        _check_number_text(digits, "format width or precision")


# --- the deadline -----------------------------------------------------------------------------


class _Watchdog:
    """Trace function that raises ScriptTimeout once the deadline has passed."""

    __slots__ = ("deadline", "expired", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = _monotonic() + limit
        self.expired = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> _Watchdog | None:
        filename = frame.f_code.co_filename
        if _monotonic() > self.deadline:
            if filename in (_FILENAME, __file__):
                raise self.expire()
            # Anything else may be a garbage-collector callback, where an exception is lost:
            # mark the run expired; the script's next line or `_tick` raises.
            self.expired = True
            return None
        if event == "call" and filename != _FILENAME:
            return None  # our own guards: checked on call, their lines are not traced
        return self

    def expire(self) -> ScriptTimeout:
        self.expired = True
        return ScriptTimeout(f"stopped after the time limit of {self.limit:g} s")


def _tick() -> None:
    """Run at the top of every loop and function body: check the deadline, re-arm the trace.

    The trace alone is not enough: a one-line `while True: pass` jumps to itself without any
    trace event, and a RecursionError raised inside the trace function switches tracing off.
    """
    watchdog = _local.watchdog
    if sys.gettrace() is not watchdog:
        sys.settrace(watchdog)
    if watchdog.expired or _monotonic() > watchdog.deadline:
        raise watchdog.expire()


# --- guards called by the compiled code -------------------------------------------------------


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_items(len(a) + len(b), "concatenation")
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) or isinstance(b, int):
        _check_mul(a, b)
    return a * b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes | int):
        _check_mod(a, b)
    return a % b


def _power(a: Any, b: Any) -> Any:
    _check_pow(a, b)
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    _check_lshift(a, b)
    return a << b


def _floordiv(a: Any, b: Any) -> Any:
    _check_divide(a, b)
    return a // b


_BINOP_GUARDS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("_add_", _add),
    ast.Mult: ("_mul_", _mul),
    ast.Mod: ("_mod_", _mod),
    ast.Pow: ("_pow_", _power),
    ast.LShift: ("_lshift_", _lshift),
    ast.FloorDiv: ("_floordiv_", _floordiv),
}

_INPLACE: dict[str, tuple[Callable[[Any, Any], None], Callable[[Any, Any], Any]]] = {
    "+=": (_check_add, operator.iadd),
    "-=": (_no_check, operator.isub),
    "*=": (_check_mul, operator.imul),
    "/=": (_no_check, operator.itruediv),
    "//=": (_check_divide, operator.ifloordiv),
    "%=": (_check_mod, operator.imod),
    "**=": (_check_pow, operator.ipow),
    "<<=": (_check_lshift, operator.ilshift),
    ">>=": (_no_check, operator.irshift),
    "&=": (_no_check, operator.iand),
    "|=": (_no_check, operator.ior),
    "^=": (_no_check, operator.ixor),
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
    _check_format_spec(spec)
    _check_decimal(value)
    return format(value, spec)


def _except(types: Any) -> Any:
    """Filter around every `except` clause: a ScriptTimeout is never caught."""
    if isinstance(sys.exception(), ScriptTimeout):
        return ()
    _tick()  # the exception may be a RecursionError that switched tracing off
    return BaseException if types is None else types


def _getiter(obj: Any) -> Any:
    _tick()  # comprehensions have no body to put a tick into
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
    "ljust": _pad_size, "rjust": _pad_size, "center": _pad_size, "zfill": _pad_size,
    "expandtabs": _tab_size, "replace": _replace_size, "join": _join_size,
    "translate": _translate_size, "extend": _extend_size, "strftime": _strftime_size,
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
        _check_items(size, f"result of {name}()")
        return unbound(*full, **kwargs)

    return sized_call


def _make_getattr(read_only: bool) -> Callable[[Any, str], Any]:
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


# --- builtins ---------------------------------------------------------------------------------


def _range(*args: Any) -> range:
    result = range(*args)
    try:
        length = len(result)
    except OverflowError:
        length = _MAX_ITEMS + 1
    _check_items(length, "range")
    return result


def _sum(items: Iterable[Any], /, start: Any = 0) -> Any:
    if not isinstance(start, _SEQUENCES):
        return sum(items, start)
    items = list(items)
    try:
        _check_items(len(start) + sum(map(len, items)), "sum of sequences")
    except TypeError:
        pass  # sum() raises the proper error
    return sum(items, start)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    _check_pow(base, exp, mod)
    return pow(base, exp) if mod is None else pow(base, exp, mod)


def _round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        _check_decimal(number)
        return round(number)
    if isinstance(number, int) and isinstance(ndigits, int) and -ndigits * 4 > _MAX_INT_BITS:
        raise SandboxError("round() to that many digits is not allowed")
    return round(number, ndigits)


def _divmod(a: Any, b: Any) -> Any:
    _check_divide(a, b)
    return divmod(a, b)


def _var(name: str, default: Any = None, *, required: bool = False) -> Any:
    """Return the task data value `name` (which may hold spaces), or `default` when it is not set;
    with `required`, raises NameError when it is not set."""
    if not isinstance(name, str) or name.startswith("_"):
        raise SandboxError("var() needs the name of a task data variable")
    namespace = getattr(_local, "namespace", None) or {}
    if required and name not in namespace:
        raise NameError(f"variable {name!r} is not set", name=name)
    value = namespace.get(name, default)
    if callable(value) or isinstance(value, ModuleType):
        return default                  # a builtin of the sandbox, not task data
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
            raise SandboxError(f"cannot set {target!r}: {'.'.join(parts[:i + 1])!r} is not an object")
        data = inner
    data[parts[-1]] = value


def _set_var(target: str, value: Any) -> None:
    """Set the task data value `target` (see assign_path: names with spaces, dotted paths); raises SandboxError."""
    namespace = getattr(_local, "namespace", None)
    if namespace is None:
        raise SandboxError("set_var() is available in scripts only")
    head = target.split(".", 1)[0] if isinstance(target, str) else ""
    if "." in target and isinstance(namespace.get(head), dict):
        namespace[head] = deepcopy(namespace[head])   # the write must reach the task data, not a shared object
    assign_path(namespace, target, value)


def _feel(source: str, names: list[str] | None = None) -> Any:
    """Evaluate a FEEL expression (deployed FEEL becomes this call) over the task data; raises FeelError."""
    return feel_calls.evaluate(source, names or [], getattr(_local, "namespace", None) or {})


class _DecimalType(type):
    """Metaclass of the `Decimal` seen by expressions: real Decimals with bounded exponents."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, decimal.Decimal)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, decimal.Decimal)

    def __call__(cls, value: Any = "0", context: Any = None) -> decimal.Decimal:
        if isinstance(value, int):
            _check_bits(value.bit_length(), "Decimal")
        result = decimal.Decimal(value, context)
        _check_decimal(result)
        return result


class _Decimal(metaclass=_DecimalType):
    """Stands in for decimal.Decimal inside the sandbox."""


def _decimal_context() -> decimal.Context:
    context = getattr(_local, "decimal_context", None)
    if context is None:  # arithmetic results stay below 10**_MAX_DECIMAL_EXPONENT
        context = decimal.Context(Emax=_MAX_DECIMAL_EXPONENT, Emin=-_MAX_DECIMAL_EXPONENT)
        _local.decimal_context = context
    return context


_SAFE_BUILTINS: dict[str, Any] = {
    **{f.__name__: f for f in (
        abs, all, any, ascii, bin, bool, callable, chr, dict, enumerate, filter, float, frozenset,
        hex, int, isinstance, issubclass, len, list, map, max, min, next, oct, ord, repr, reversed,
        set, sorted, str, tuple, zip,
    )},
    **{e.__name__: e for e in (
        ArithmeticError, AssertionError, AttributeError, Exception, IndexError, KeyError,
        LookupError, NameError, NotImplementedError, OverflowError, RecursionError, RuntimeError,
        StopIteration, TypeError, UnicodeError, ValueError, ZeroDivisionError,
    )},
    "divmod": _divmod, "pow": _pow, "range": _range, "round": _round, "sum": _sum,
    "date": date, "datetime": datetime, "timedelta": timedelta, "timezone": timezone,
    "Decimal": _Decimal, "var": _var, "set_var": _set_var, feel_calls.CALL_NAME: _feel,
}

_GUARDS: dict[str, Any] = {
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
    "_tick_": _tick,
    **dict(_BINOP_GUARDS.values()),
}


# --- compilation ------------------------------------------------------------------------------


def _call(name: str, args: list[ast.expr], like: ast.stmt | ast.expr | ast.excepthandler) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)
    return node


def _assign(name: str, value: ast.expr, like: ast.AST) -> ast.Assign:
    return ast.copy_location(ast.Assign(targets=[ast.Name(name, ast.Store())], value=value), like)


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, tightened, with size, exception and deadline guards added."""

    def _refuse(self, node: ast.AST, what: str) -> ast.AST:
        self.error(node, f"{what} are not allowed")
        return node

    def _with_tick(self, node: Any) -> Any:
        node.body.insert(0, ast.copy_location(ast.Expr(_call("_tick_", [], node)), node))
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        return self._refuse(node, "import statements")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        return self._refuse(node, "import statements")

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._refuse(node, "class definitions")

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        return self._refuse(node, "generator functions (yield)")

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        return self._refuse(node, "generator functions (yield)")

    def visit_With(self, node: ast.With) -> ast.AST:
        return self._refuse(node, "with statements")

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:  # a finally block would run after a ScriptTimeout
            self.error(node, "try/finally is not allowed")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = cast(ast.ExceptHandler, super().visit_ExceptHandler(node))
        node.type = _call("_except_", [node.type or ast.Constant(None)], node)
        return node

    def visit_While(self, node: ast.While) -> Any:
        return self._with_tick(super().visit_While(node))

    def visit_For(self, node: ast.For) -> Any:
        return self._with_tick(super().visit_For(node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        return self._with_tick(super().visit_FunctionDef(node))

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if isinstance(node.target, ast.Subscript):
            return self._augmented_item(node)
        return super().visit_AugAssign(node)  # names: `_inplacevar_`; attributes: refused

    def _augmented_item(self, node: ast.AugAssign) -> list[ast.stmt]:
        """`a[k] += v` -> `o = a; i = k; _write_(o)[i] = _inplacevar_("+=", _getitem_(o, i), v)`."""
        target = cast(ast.Subscript, node.target)
        self._temporaries = getattr(self, "_temporaries", 0) + 1
        obj, key = f"_item_obj{self._temporaries}", f"_item_key{self._temporaries}"
        current = _call("_getitem_", [ast.Name(obj, ast.Load()), ast.Name(key, ast.Load())], node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        store = ast.Subscript(value=_call("_write_", [ast.Name(obj, ast.Load())], node),
                              slice=ast.Name(key, ast.Load()), ctx=ast.Store())
        update = ast.Assign(targets=[store], value=_call("_inplacevar_", [op, current, self.visit(node.value)], node))
        return [
            _assign(obj, self.visit(target.value), node),
            _assign(key, self.visit(target.slice), node),
            ast.copy_location(update, node),
        ]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = cast(ast.BinOp, super().visit_BinOp(node))
        guard = _BINOP_GUARDS.get(type(node.op))
        return node if guard is None else _call(guard[0], [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = cast(ast.FormattedValue, super().visit_FormattedValue(node))
        if node.format_spec is None:
            return node
        args = [node.value, ast.Constant(node.conversion), node.format_spec]
        new_node = ast.FormattedValue(value=_call("_format_", args, node), conversion=-1, format_spec=None)
        return ast.copy_location(new_node, node)

    def visit_Module(self, node: ast.Module) -> Any:
        return ast.fix_missing_locations(cast(ast.Module, super().visit_Module(node)))

    def visit_Expression(self, node: ast.Expression) -> Any:
        return ast.fix_missing_locations(cast(ast.Expression, super().visit_Expression(node)))


class _Compiled(NamedTuple):
    code: CodeType | None
    error: type[Exception] | None = None
    message: str = ""  # one line, starting "Line N:"
    lineno: int = 1
    detail: str = ""  # a SyntaxError's own message


@functools.lru_cache(maxsize=_COMPILE_CACHE_SIZE)
def _compile(source: str, mode: str) -> _Compiled:
    with _compile_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings in user code are not the engine's warnings
        return _compile_uncached(source, mode)


def _compile_uncached(source: str, mode: str) -> _Compiled:
    try:
        tree = cast(ast.Module | ast.Expression, ast.parse(source, _FILENAME, mode))
    except (SyntaxError, ValueError) as err:
        lineno = getattr(err, "lineno", None) or 1
        detail = getattr(err, "msg", None) or str(err)
        return _Compiled(None, SyntaxError, f"Line {lineno}: SyntaxError: {detail}", lineno, detail)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(tree, _FILENAME, policy=_SandboxPolicy)
    except RecursionError:
        return _Compiled(None, SandboxError, "Line 1: the code is nested too deeply")
    if result.errors:
        return _Compiled(None, SandboxError, "; ".join(result.errors).replace("\n", " "))
    return _Compiled(result.code)


def _code_for(source: str, mode: str) -> CodeType:
    compiled = _compile(source, mode)
    if compiled.code is not None:
        return compiled.code
    if compiled.error is SyntaxError:
        lineno = min(compiled.lineno, max(len(source.splitlines()), 1))
        raise SyntaxError(compiled.detail, (_FILENAME, lineno, None, None))
    raise SandboxError(compiled.message)


def check_expression(source: str, mode: str = "eval") -> str | None:
    """Return None if `source` compiles restricted, else "Line N: reason"; raises ValueError for a bad mode."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    compiled = _compile(source, mode)
    return None if compiled.code is not None else compiled.message


# --- running ----------------------------------------------------------------------------------


def _traced_eval(code: CodeType, namespace: dict[str, Any], watchdog: _Watchdog) -> Any:
    previous_trace = sys.gettrace()
    previous_decimal = decimal.getcontext()
    previous_local = getattr(_local, "namespace", None), getattr(_local, "watchdog", None)
    decimal.setcontext(_decimal_context())
    _local.namespace, _local.watchdog = namespace, watchdog
    sys.settrace(watchdog)  # last: no Python-level call may run between here and the eval
    try:
        return eval(code, namespace)  # noqa: S307 -- restricted code, guarded builtins only
    finally:
        sys.settrace(previous_trace)  # first, before any Python-level call
        _local.namespace, _local.watchdog = previous_local
        decimal.setcontext(previous_decimal)


def _public(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """Copy `mapping` without its keys that start with "_" (and without non-str keys)."""
    return {k: v for k, v in mapping.items() if type(k) is str and k[:1] != "_"}


def _namespace(context: Mapping[str, Any], external: Mapping[str, Any] | None,
               builtins: dict[str, Any]) -> dict[str, Any]:
    namespace = _public(external) if external else {}
    namespace.update(_public(context))
    namespace["__builtins__"] = builtins
    return namespace


def _is_data(value: object) -> bool:
    return not callable(value) and not isinstance(value, ModuleType)


def _write_back(namespace: dict[str, Any], context: dict[str, Any], external: Mapping[str, Any]) -> None:
    updates = {
        k: v for k, v in _public(namespace).items()
        if _is_data(v) and (k not in external or k in context)
    }
    for key in [k for k in _public(context) if k not in updates]:
        del context[key]
    context.update(updates)


def _refusal(err: NameError) -> SandboxError | None:
    """Explain a NameError for a builtin the sandbox leaves out; None for an ordinary one."""
    if err.name == "_print":
        return SandboxError("print() is available in scripts only")
    if err.name in _DENIED_NAMES:
        return SandboxError(f"{err.name!r} is not available in expressions and scripts")
    return None


def _checked_helpers(extra: Mapping[str, Any]) -> dict[str, Any]:
    helpers = _public(extra)
    if len(helpers) != len(extra) or any(isinstance(v, ModuleType) for v in helpers.values()):
        raise ValueError("extra globals: names must not start with '_' and values must not be modules")
    return helpers


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Script engine environment that runs code restricted, with a per-call time limit."""

    def __init__(self, time_limit: float = 3.0, extra_globals: dict[str, Any] | None = None) -> None:
        """Set up the builtins; raises ValueError for a non-positive limit or an unsafe extra global."""
        if not time_limit > 0:
            raise ValueError("time_limit must be positive")
        helpers = _checked_helpers(extra_globals or {})
        super().__init__(helpers)
        self.time_limit = time_limit
        base = {**_SAFE_BUILTINS, **helpers, **_GUARDS}
        self._eval_builtins = {**base, "_getattr_": _make_getattr(read_only=True)}
        self._exec_builtins = {**base, "_getattr_": _make_getattr(read_only=False)}

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """Return the value of `expression`; raises SyntaxError, SandboxError or what the code raises."""
        code = _code_for(expression, "eval")
        return self._run(code, _namespace(context, external_context, self._eval_builtins))

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run `script`, copy the names it set or deleted into `context`; raises like evaluate."""
        code = _code_for(script, "exec")
        namespace = _namespace(context, external_context, self._exec_builtins)
        self._run(code, namespace)
        _write_back(namespace, context, external_context or {})
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        """Refuse the call: raises SandboxError, service calls are not configured."""
        raise SandboxError("service calls are not configured")

    def _run(self, code: CodeType, namespace: dict[str, Any]) -> Any:
        left = remaining_seconds()          # inside an engine step: no longer than the step has left
        watchdog = _Watchdog(self.time_limit if left is None else min(self.time_limit, left))
        try:
            result = _traced_eval(code, namespace, watchdog)
        except NameError as err:
            refusal = _refusal(err)
            if refusal is None:
                raise
            raise refusal.with_traceback(err.__traceback__) from err
        if watchdog.expired:  # the timeout was raised and then swallowed somewhere
            raise watchdog.expire()
        return result


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that evaluates everything in a SandboxedEnvironment."""

    def __init__(self, time_limit: float = 3.0) -> None:
        """Create the engine; raises ValueError for a non-positive time limit."""
        super().__init__(environment=SandboxedEnvironment(time_limit))

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        """Evaluate on `task`'s data (with Camunda's multi-instance counters on an instance); raises like Spiff."""
        loop = loop_counters.counters(task)
        if loop is not None:
            external_context = {**loop, **(external_context or {})}
        return super().evaluate(task, expression, external_context)

    def validate(self, expression: str) -> None:
        """Check that `expression` compiles in the sandbox; raises SyntaxError with the reason."""
        message = check_expression(expression, "eval")
        if message is not None:
            raise SyntaxError(message)
