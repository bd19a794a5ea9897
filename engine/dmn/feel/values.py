"""FEEL values and the operations on them: equality, ordering, arithmetic, conversion.

Numbers are `Decimal` in a Decimal128 context (34 digits, half-even), as DMN asks; values
coming from Python (JSON `int`/`float`) are converted on the way in, and `to_python` turns
results back into JSON-friendly values (integral numbers to `int`, others to `float`,
temporal values to ISO 8601 text). `None` is FEEL's null and propagates through every
operation. Comparing values of different types for equality is `false`; ordering them or
doing arithmetic on them is an error (`FeelError`), so a wrong input type is reported
instead of silently matching nothing.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.state import Budget
from engine.dmn.feel.temporal import (
    YearsMonths,
    difference,
    duration_nanos,
    format_date,
    format_date_time,
    format_duration,
    format_time,
    format_years_months,
    nanos_to_delta,
    shift,
)

CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-6143,
    Emax=6144,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
MAX_STRING = 1_000_000
MAX_INT_DIGITS = 4_000
MAX_DEPTH = 64  # nesting of lists and contexts coming in from Python


class _Open:
    """The missing end of a range written as a comparison: `< 10` is the range from OPEN to 10 (not `(null..10)`,
    whose start is null: unknown)."""

    def __repr__(self) -> str:
        return "OPEN"


OPEN: Any = _Open()


@dataclass(frozen=True)
class Range:
    """A FEEL range `[low..high]`; `None` bounds are open-ended."""

    low: Any
    high: Any
    low_closed: bool = True
    high_closed: bool = True
    point: bool = False  # `(=10)`, not equal to [10..10] (DMN 1.5, 10.3.2.7)

    def __str__(self) -> str:
        if self.low is OPEN:
            return f"{'<=' if self.high_closed else '<'} {to_text(self.high)}"
        if self.high is OPEN:
            return f"{'>=' if self.low_closed else '>'} {to_text(self.low)}"
        opener = "[" if self.low_closed else "("
        closer = "]" if self.high_closed else ")"
        return f"{opener}{to_text(self.low)}..{to_text(self.high)}{closer}"


@dataclass(frozen=True)
class NotEqualTo:
    """The unary test `!= value` used as a value: `(!= 10) = (!= 10)`."""

    value: Any

    def __str__(self) -> str:
        return f"!= {to_text(self.value)}"


@dataclass(frozen=True, eq=False)
class Function:
    """A callable FEEL value: a built-in or a `function(x) ...` definition."""

    name: str
    call: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: bool = False


# ---------------------------------------------------------------- conversion


_AS_IS = (bool, str, date, time, timedelta, YearsMonths, Range, Function)


def from_python(value: Any, depth: int = 0, budget: Budget | None = None) -> Any:
    """A Python/JSON value as a FEEL value; raises FeelError for what FEEL cannot hold (or is too large)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int and -(10**15) < value < 10**15:
        return Decimal(value)
    if isinstance(value, Decimal):
        return _checked_decimal(value)
    if isinstance(value, _AS_IS):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_DIGITS * 10 // 3:  # never str() a huge int: that is quadratic
            raise FeelLimit("integer input is too large")
        return Decimal(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else Decimal(repr(value))
    if depth > MAX_DEPTH:
        raise FeelLimit(f"input is nested more than {MAX_DEPTH} levels deep")
    if budget is None:
        budget = Budget("input", builds=True)  # a shared list (`[[0] * 1000] * 30000`) counts each time it occurs
    if isinstance(value, Mapping):
        budget.visit(len(value))
        return {str(k): from_python(v, depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        budget.visit(len(value))
        return [from_python(v, depth + 1, budget) for v in value]
    raise FeelError(f"a {type(value).__name__} cannot be used in FEEL")


def _checked_decimal(value: Decimal) -> Decimal | None:
    if not value.is_finite():
        return None
    return value


def to_python(value: Any, budget: Budget | None = None) -> Any:
    """A FEEL value as plain JSON-friendly Python (numbers, text, lists, dicts, None); raises FeelError if huge."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return decimal_to_python(value)
    if isinstance(value, dict | list):
        if budget is None:
            budget = Budget("result", builds=True)  # a list may hold the same big list many times over
        budget.visit(len(value))
        if isinstance(value, dict):
            return {k: to_python(v, budget) for k, v in value.items()}
        return [to_python(v, budget) for v in value]
    if isinstance(value, Function):
        return None
    return to_text(value)


def decimal_to_python(value: Decimal) -> int | float | str:
    """An integral Decimal as int, any other as float (text if a float cannot hold it)."""
    if value == value.to_integral_value() and abs(value.adjusted()) <= 30:
        return int(value)
    result = float(value)
    return result if math.isfinite(result) else str(value)


def to_text(value: Any, limit: int = MAX_STRING) -> str:
    """FEEL's `string(x)`: how a value reads as text; raises FeelError past `limit` characters."""
    if isinstance(value, list | dict):
        parts: list[str] = []
        _write(value, parts, [limit], Budget("text"))
        return "".join(parts)
    if isinstance(value, str):
        return value
    return _scalar_text(value)


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _number_text(value)
    if isinstance(value, datetime):
        return format_date_time(value)
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, time):
        return format_time(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, YearsMonths):
        return format_years_months(value)
    return str(value)


def _write(value: Any, parts: list[str], left: list[int], budget: Budget) -> None:
    """Append the text of a list or context to `parts`, sized as it goes: it never builds more than `left`."""
    if isinstance(value, list | dict):
        budget.visit(len(value) + 1)
        items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        _put("[" if isinstance(value, list) else "{", parts, left)
        for i, (key, item) in enumerate(items):
            _put(", " if i else "", parts, left)
            if key is not None:
                _put(f"{key}: ", parts, left)
            _write(item, parts, left, budget)
        _put("]" if isinstance(value, list) else "}", parts, left)
    elif isinstance(value, str):
        _put(f'"{value}"', parts, left)
    else:
        _put(_scalar_text(value), parts, left)


def _put(text: str, parts: list[str], left: list[int]) -> None:
    left[0] -= len(text)
    if left[0] < 0:
        raise FeelLimit(f"text would be longer than {MAX_STRING:,} characters")
    parts.append(text)


def _number_text(value: Decimal) -> str:
    if value == value.to_integral_value() and abs(value.adjusted()) <= 30:
        return str(int(value))
    text = format(value.normalize(CONTEXT), "f")
    return text


# ---------------------------------------------------------------- types


def type_name(value: Any) -> str:
    """The FEEL type of a value, as error messages and `instance of` name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date and time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "days and time duration"
    if isinstance(value, YearsMonths):
        return "years and months duration"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "context"
    if isinstance(value, Range):
        return "range"
    if isinstance(value, Function):
        return "function"
    return type(value).__name__


# ---------------------------------------------------------------- equality and order


_FAST_EQUAL = frozenset({str, Decimal, bool, date, timedelta, YearsMonths})


def equal(left: Any, right: Any) -> bool:
    """FEEL `=`: null equals only null; values of different types are not equal."""
    if left is None or right is None:
        return left is None and right is None
    if type(left) is type(right) and type(left) in _FAST_EQUAL:
        return bool(left == right)
    kind = type_name(left)
    if kind != type_name(right):
        return False
    if kind in ("list", "context"):
        return _equal_nested(left, right, Budget("compared value"))
    if kind in ("time", "date and time") and (_aware(left) != _aware(right)):
        return False
    return bool(left == right)


def _equal_nested(left: Any, right: Any, budget: Budget) -> bool:
    """`=` of lists and contexts, counting what it visits (a list may hold the same big list many times)."""
    if isinstance(left, list) and isinstance(right, list):
        budget.visit(len(left))
        return len(left) == len(right) and all(_equal_nested(a, b, budget) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        budget.visit(len(left))
        return left.keys() == right.keys() and all(_equal_nested(left[k], right[k], budget) for k in left)
    return equal(left, right)


def _aware(value: time | datetime) -> bool:
    return value.tzinfo is not None


ORDERED = frozenset(
    {"number", "string", "date", "time", "date and time", "days and time duration", "years and months duration"}
)


_FAST_ORDER = frozenset({Decimal, str, date, timedelta, YearsMonths})


def compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1; None if either is null; raises FeelError for values that cannot be ordered."""
    if left is None or right is None:
        return None
    if type(left) is type(right) and type(left) in _FAST_ORDER:
        order: int = (left > right) - (left < right)
        return order
    kind = type_name(left)
    if kind != type_name(right) or kind not in ORDERED:
        raise FeelError(f"cannot compare {_show(left)} with {_show(right)}")
    if kind in ("time", "date and time") and _aware(left) != _aware(right):
        raise FeelError(f"cannot compare {kind} values with and without a time zone")
    order = (left > right) - (left < right)
    return order


def _show(value: Any) -> str:
    try:
        text = to_text(value, limit=60)
    except FeelError:
        text = "..."
    if isinstance(value, str):
        text = f'"{text}"'
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type_name(value)} {text}"


# ---------------------------------------------------------------- arithmetic


def _numeric(op: Callable[[Decimal, Decimal], Decimal], left: Decimal, right: Decimal) -> Decimal | None:
    try:
        return op(left, right)
    except decimal.DivisionByZero:
        return None
    except decimal.Overflow as err:
        raise FeelLimit("number is too large") from err
    except decimal.InvalidOperation:
        return None


def add(left: Any, right: Any) -> Any:
    """FEEL `+`; raises FeelError for types that do not add."""
    if left is None or right is None:
        return None
    kinds = (type_name(left), type_name(right))
    if kinds == ("number", "number"):
        return _numeric(CONTEXT.add, left, right)
    if kinds == ("string", "string"):
        if len(left) + len(right) > MAX_STRING:
            raise FeelLimit(f"string would be longer than {MAX_STRING:,} characters")
        return left + right
    if kinds[0] == kinds[1] and kinds[0].endswith("duration"):
        return _durations(left, right, 1)
    if kinds[1].endswith("duration") and kinds[0] in ("date", "date and time", "time"):
        return shift(left, right)
    if kinds[0].endswith("duration") and kinds[1] in ("date", "date and time", "time"):
        return shift(right, left)
    raise FeelError(f"cannot add {_show(left)} and {_show(right)}")


def subtract(left: Any, right: Any) -> Any:
    """FEEL `-`; raises FeelError for types that do not subtract."""
    if left is None or right is None:
        return None
    kinds = (type_name(left), type_name(right))
    if kinds == ("number", "number"):
        return _numeric(CONTEXT.subtract, left, right)
    if kinds[0] == kinds[1] and kinds[0].endswith("duration"):
        return _durations(left, right, -1)
    if kinds[1].endswith("duration") and kinds[0] in ("date", "date and time", "time"):
        return shift(left, negate(right))
    temporal = ("date", "date and time")
    if (kinds[0] in temporal and kinds[1] in temporal) or kinds == ("time", "time"):
        return difference(left, right)
    raise FeelError(f"cannot subtract {_show(right)} from {_show(left)}")


def _durations(left: Any, right: Any, sign: int) -> Any:
    if isinstance(left, YearsMonths):
        return YearsMonths(left.months + sign * right.months)
    try:
        return left + right if sign > 0 else left - right
    except OverflowError as err:
        raise FeelLimit("duration is too long") from err


def multiply(left: Any, right: Any) -> Any:
    """FEEL `*`; raises FeelError for types that do not multiply."""
    if left is None or right is None:
        return None
    kinds = (type_name(left), type_name(right))
    if kinds == ("number", "number"):
        return _numeric(CONTEXT.multiply, left, right)
    if kinds[0].endswith("duration") and kinds[1] == "number":
        return _scale(left, right)
    if kinds[1].endswith("duration") and kinds[0] == "number":
        return _scale(right, left)
    raise FeelError(f"cannot multiply {_show(left)} by {_show(right)}")


def divide(left: Any, right: Any) -> Any:
    """FEEL `/` (division by zero is null); raises FeelError for types that do not divide."""
    if left is None or right is None:
        return None
    kinds = (type_name(left), type_name(right))
    if kinds == ("number", "number"):
        return _numeric(CONTEXT.divide, left, right)
    if kinds[0].endswith("duration") and kinds[1] == "number":
        return None if right == 0 else _scale(left, CONTEXT.divide(Decimal(1), right))
    if kinds[0] == kinds[1] == "days and time duration":
        return None if not right else _numeric(CONTEXT.divide, _seconds(left), _seconds(right))
    if kinds[0] == kinds[1] == "years and months duration":
        return None if not right.months else _numeric(CONTEXT.divide, Decimal(left.months), Decimal(right.months))
    raise FeelError(f"cannot divide {_show(left)} by {_show(right)}")


def power(left: Any, right: Any) -> Any:
    """FEEL `**` on numbers; raises FeelError for other types or too large results."""
    if left is None or right is None:
        return None
    if type_name(left) != "number" or type_name(right) != "number":
        raise FeelError(f"cannot raise {_show(left)} to {_show(right)}")
    return _numeric(CONTEXT.power, left, right)


def negate(value: Any) -> Any:
    """Unary minus on a number or duration; raises FeelError otherwise."""
    if value is None:
        return None
    if isinstance(value, Decimal) and not isinstance(value, bool):
        return CONTEXT.minus(value)
    if isinstance(value, timedelta):
        return -value
    if isinstance(value, YearsMonths):
        return YearsMonths(-value.months)
    raise FeelError(f"cannot negate {_show(value)}")


def _seconds(value: timedelta) -> Decimal:
    return Decimal(duration_nanos(value)).scaleb(-9)


def _scale(duration: Any, factor: Decimal) -> Any:
    if isinstance(duration, YearsMonths):
        months = CONTEXT.multiply(Decimal(duration.months), factor)
        return YearsMonths(int(months.to_integral_value(rounding=decimal.ROUND_DOWN)))
    nanos = CONTEXT.multiply(_seconds(duration), factor).scaleb(9)
    if nanos.adjusted() > 30:
        raise FeelLimit("duration is too long")
    return nanos_to_delta(int(nanos))


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "**": power,
}


def in_range(value: Any, span: Range) -> bool | None:
    """Whether `value` lies in the range; None for a null value; raises FeelError for other types."""
    if value is None or span.low is None or span.high is None:  # a null end is unknown; an OPEN end is no end
        return None
    if span.low is not OPEN:
        low = compare(value, span.low)
        if low is None or low < 0 or (low == 0 and not span.low_closed):
            return False if low is not None else None
    if span.high is not OPEN:
        high = compare(value, span.high)
        if high is None or high > 0 or (high == 0 and not span.high_closed):
            return False if high is not None else None
    return True
