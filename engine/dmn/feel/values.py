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

from engine.dmn.feel.errors import FeelError
from engine.dmn.feel.temporal import (
    YearsMonths,
    difference,
    format_date_time,
    format_duration,
    format_time,
    format_years_months,
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


@dataclass(frozen=True)
class Range:
    """A FEEL range `[low..high]`; `None` bounds are open-ended."""

    low: Any
    high: Any
    low_closed: bool = True
    high_closed: bool = True

    def __str__(self) -> str:
        opener = "[" if self.low_closed else "("
        closer = "]" if self.high_closed else ")"
        return f"{opener}{to_text(self.low)}..{to_text(self.high)}{closer}"


@dataclass(frozen=True, eq=False)
class Function:
    """A callable FEEL value: a built-in or a `function(x) ...` definition."""

    name: str
    call: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: bool = False


# ---------------------------------------------------------------- conversion


_AS_IS = (bool, str, date, time, timedelta, YearsMonths, Range, Function)


def from_python(value: Any, depth: int = 0) -> Any:
    """A Python/JSON value as a FEEL value; raises FeelError for what FEEL cannot hold."""
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
        if len(str(abs(value))) > MAX_INT_DIGITS:
            raise FeelError("integer input is too large")
        return Decimal(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else Decimal(repr(value))
    if depth > MAX_DEPTH:
        raise FeelError(f"input is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        return {str(k): from_python(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [from_python(v, depth + 1) for v in value]
    raise FeelError(f"a {type(value).__name__} cannot be used in FEEL")


def _checked_decimal(value: Decimal) -> Decimal | None:
    if not value.is_finite():
        return None
    return value


def to_python(value: Any) -> Any:
    """A FEEL value as plain JSON-friendly Python (numbers, text, lists, dicts, None)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return decimal_to_python(value)
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, Function):
        return None
    return to_text(value)


def decimal_to_python(value: Decimal) -> int | float | str:
    """An integral Decimal as int, any other as float (text if a float cannot hold it)."""
    if value == value.to_integral_value() and abs(value.adjusted()) <= 30:
        return int(value)
    result = float(value)
    return result if math.isfinite(result) else str(value)


def to_text(value: Any) -> str:
    """FEEL's `string(x)`: how a value reads as text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _number_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return format_date_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return format_time(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, YearsMonths):
        return format_years_months(value)
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_quoted(v)}" for k, v in value.items()) + "}"
    return str(value)


def _quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else to_text(value)


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


def is_instance(value: Any, name: str) -> bool:
    """FEEL `value instance of name`."""
    if name == "Any":
        return value is not None
    if name == "Null":
        return value is None
    return type_name(value) == name


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
    if kind == "list":
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if kind == "context":
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if kind in ("time", "date and time") and (_aware(left) != _aware(right)):
        return False
    return bool(left == right)


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
    text = to_text(value)
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
        raise FeelError("number is too large") from err
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
            raise FeelError(f"string would be longer than {MAX_STRING:,} characters")
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
        raise FeelError("duration is too long") from err


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
    return Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / Decimal(1_000_000)


def _scale(duration: Any, factor: Decimal) -> Any:
    if isinstance(duration, YearsMonths):
        months = CONTEXT.multiply(Decimal(duration.months), factor)
        return YearsMonths(int(months.to_integral_value(rounding=decimal.ROUND_DOWN)))
    seconds = CONTEXT.multiply(_seconds(duration), factor)
    try:
        return timedelta(seconds=float(seconds))
    except OverflowError as err:
        raise FeelError("duration is too long") from err


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "**": power,
}


def in_range(value: Any, span: Range) -> bool | None:
    """Whether `value` lies in the range; None for a null value; raises FeelError for other types."""
    if value is None:
        return None
    if span.low is not None:
        low = compare(value, span.low)
        if low is None or low < 0 or (low == 0 and not span.low_closed):
            return False if low is not None else None
    if span.high is not None:
        high = compare(value, span.high)
        if high is None or high > 0 or (high == 0 and not span.high_closed):
            return False if high is not None else None
    return True
