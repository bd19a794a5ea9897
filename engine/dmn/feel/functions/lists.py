"""List and number functions of FEEL."""

from __future__ import annotations

import decimal
import functools
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.functions.library import builtin, int_arg, items_of, list_arg, number_arg
from engine.dmn.feel.state import EvalState, check_items
from engine.dmn.feel.temporal import YearsMonths
from engine.dmn.feel.values import CONTEXT, Function, add, compare, equal, type_name


@builtin("list contains", "list, element", nulls=True, needs_state=True)
def list_contains(state: EvalState, items: Any, element: Any) -> bool | None:
    if items is None:
        return None
    values = list_arg(items, "list contains")
    state.spend(len(values))
    return any(equal(v, element) for v in values)


@builtin("count", "list", variadic=True, nulls=True)
def count(*args: Any) -> Decimal:
    return Decimal(len(items_of(args)))


def _comparable(args: tuple[Any, ...], function: str) -> list[Any] | None:
    items = items_of(args)
    if not items or any(v is None for v in items):
        return None
    return items


@builtin("min", "list", variadic=True, nulls=True)
def min_(*args: Any) -> Any:
    items = _comparable(args, "min")
    if items is None:
        return None
    return functools.reduce(lambda a, b: b if (compare(b, a) or 0) < 0 else a, items)


@builtin("max", "list", variadic=True, nulls=True)
def max_(*args: Any) -> Any:
    items = _comparable(args, "max")
    if items is None:
        return None
    return functools.reduce(lambda a, b: b if (compare(b, a) or 0) > 0 else a, items)


def _numbers(args: tuple[Any, ...], function: str) -> list[Decimal] | None:
    items = items_of(args)
    if not items or any(v is None for v in items):
        return None
    return [number_arg(v, function, "list item") for v in items]


@builtin("sum", "list", variadic=True, nulls=True)
def sum_(*args: Any) -> Any:
    numbers = _numbers(args, "sum")
    if numbers is None:
        return None
    return functools.reduce(add, numbers)


@builtin("product", "list", variadic=True, nulls=True)
def product(*args: Any) -> Decimal | None:
    numbers = _numbers(args, "product")
    if numbers is None:
        return None
    try:
        return functools.reduce(CONTEXT.multiply, numbers)
    except decimal.Overflow as err:
        raise FeelLimit("product(): number is too large") from err


@builtin("mean", "list", variadic=True, nulls=True)
def mean(*args: Any) -> Decimal | None:
    numbers = _numbers(args, "mean")
    if numbers is None:
        return None
    return CONTEXT.divide(functools.reduce(CONTEXT.add, numbers), Decimal(len(numbers)))


@builtin("median", "list", variadic=True, nulls=True)
def median(*args: Any) -> Decimal | None:
    numbers = _numbers(args, "median")
    if numbers is None:
        return None
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return CONTEXT.divide(CONTEXT.add(ordered[middle - 1], ordered[middle]), Decimal(2))


@builtin("stddev", "list", variadic=True, nulls=True)
def stddev(*args: Any) -> Decimal | None:
    numbers = _numbers(args, "stddev")
    if numbers is None or len(numbers) < 2:
        return None
    average = CONTEXT.divide(functools.reduce(CONTEXT.add, numbers), Decimal(len(numbers)))
    squares = functools.reduce(CONTEXT.add, (CONTEXT.power(CONTEXT.subtract(v, average), 2) for v in numbers))
    return CONTEXT.sqrt(CONTEXT.divide(squares, Decimal(len(numbers) - 1)))


@builtin("mode", "list", variadic=True, nulls=True)
def mode(*args: Any) -> list[Decimal] | None:
    numbers = _numbers(args, "mode")
    if numbers is None:
        return [] if not items_of(args) else None
    counts = Counter(numbers)
    top = max(counts.values())
    return sorted(v for v, c in counts.items() if c == top)


def _booleans(args: tuple[Any, ...]) -> list[Any]:
    return items_of(args)


@builtin("all", "list", variadic=True, nulls=True)
def all_(*args: Any) -> bool | None:
    items = _booleans(args)
    if any(v is False for v in items):
        return False
    return True if all(v is True for v in items) else None


@builtin("any", "list", variadic=True, nulls=True)
def any_(*args: Any) -> bool | None:
    items = _booleans(args)
    if any(v is True for v in items):
        return True
    return False if all(v is False for v in items) else None


@builtin("sublist", "list, start position, length", 2)
def sublist(items: Any, start: Any, length: Any = None) -> list[Any]:
    values = list_arg(items, "sublist")
    position = int_arg(start, "sublist", "start position")
    begin = max(position - 1 if position > 0 else len(values) + position, 0)
    if length is None:
        return values[begin:]
    return values[begin : begin + int_arg(length, "sublist", "length")]


@builtin("append", "list, item", 1, variadic=True, nulls=True)
def append(items: Any, *extra: Any) -> list[Any] | None:
    if items is None:
        return None
    values = list_arg(items, "append")
    check_items(len(values) + len(extra))
    return [*values, *extra]


@builtin("concatenate", "list", 1, variadic=True)
def concatenate(*lists: Any) -> list[Any]:
    check_items(sum(len(items) if isinstance(items, list) else 1 for items in lists))  # sized before it is built
    result: list[Any] = []
    for items in lists:
        result.extend(list_arg(items, "concatenate"))
    return result


@builtin("insert before", "list, position, newItem", nulls=True)
def insert_before(items: Any, position: Any, new_item: Any) -> list[Any] | None:
    if items is None or position is None:
        return None
    values = list(list_arg(items, "insert before"))
    check_items(len(values) + 1)
    index = _index(values, int_arg(position, "insert before", "position"), "insert before")
    values.insert(index, new_item)
    return values


@builtin("remove", "list, position")
def remove(items: Any, position: Any) -> list[Any]:
    values = list(list_arg(items, "remove"))
    index = _index(values, int_arg(position, "remove", "position"), "remove")
    del values[index]
    return values


def _index(values: list[Any], position: int, function: str) -> int:
    if position == 0 or abs(position) > len(values):
        raise FeelError(f"{function}(): position {position} is outside the list of {len(values)}")
    return position - 1 if position > 0 else len(values) + position


@builtin("reverse", "list")
def reverse(items: Any) -> list[Any]:
    return list(reversed(list_arg(items, "reverse")))


@builtin("index of", "list, match", nulls=True, needs_state=True)
def index_of(state: EvalState, items: Any, match: Any) -> list[Decimal] | None:
    if items is None:
        return None
    values = list_arg(items, "index of")
    state.spend(len(values))
    return [Decimal(i + 1) for i, v in enumerate(values) if equal(v, match)]


def _distinct(state: EvalState, values: list[Any]) -> list[Any]:
    result: list[Any] = []
    for value in values:
        state.spend(len(result) + 1)  # quadratic: each value is compared with those kept so far
        if not any(equal(value, seen) for seen in result):
            result.append(value)
    return result


@builtin("union", "list", 1, variadic=True, needs_state=True)
def union(state: EvalState, *lists: Any) -> list[Any]:
    check_items(sum(len(items) if isinstance(items, list) else 1 for items in lists))
    merged = [v for items in lists for v in list_arg(items, "union")]
    return _distinct(state, merged)


@builtin("distinct values", "list", needs_state=True)
def distinct_values(state: EvalState, items: Any) -> list[Any]:
    return _distinct(state, list_arg(items, "distinct values"))


@builtin("flatten", "list", needs_state=True)
def flatten(state: EvalState, items: Any) -> list[Any]:
    result: list[Any] = []
    stack = [iter(list_arg(items, "flatten"))]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                state.spend(len(value) + 1)  # nested empty lists add nothing to the result, but take time
                stack.append(iter(value))
                break
            result.append(value)
            check_items(len(result))
        else:
            stack.pop()
    return result


@builtin("sort", "list, precedes", 1, needs_state=True)
def sort(state: EvalState, items: Any, precedes: Any = None) -> list[Any]:
    values = list(list_arg(items, "sort"))
    state.tick(len(values))
    if precedes is None:

        def natural(a: Any, b: Any) -> int:
            state.spend()
            return compare(a, b) or 0

        return sorted(values, key=functools.cmp_to_key(natural))
    if not isinstance(precedes, Function):
        raise FeelError(f"sort(): precedes must be a function, not {type_name(precedes)}")

    def order(a: Any, b: Any) -> int:
        state.tick()
        return -1 if precedes.call(state, [a, b]) is True else 1

    return sorted(values, key=functools.cmp_to_key(order))


# ---------------------------------------------------------------- numbers


def _scale_arg(scale: Any, function: str) -> int:
    value = int_arg(scale, function, "scale")
    if not -6111 <= value <= 6176:
        raise FeelError(f"{function}(): scale is out of range")
    return value


def _round(n: Any, scale: Any, rounding: str, function: str) -> Decimal:
    number = number_arg(n, function, "n")
    places = 0 if scale is None else _scale_arg(scale, function)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent <= places:  # no more decimals than the scale: nothing to round
        return number
    try:
        return number.quantize(Decimal(1).scaleb(-places), rounding=rounding, context=CONTEXT)
    except decimal.InvalidOperation as err:
        raise FeelLimit(f"{function}(): result has too many digits") from err


@builtin("decimal", "n, scale")
def decimal_(n: Any, scale: Any) -> Decimal:
    return _round(n, scale, decimal.ROUND_HALF_EVEN, "decimal")


@builtin("floor", "n, scale", 1)
def floor(n: Any, scale: Any = None) -> Decimal:
    return _round(n, scale, decimal.ROUND_FLOOR, "floor")


@builtin("ceiling", "n, scale", 1)
def ceiling(n: Any, scale: Any = None) -> Decimal:
    return _round(n, scale, decimal.ROUND_CEILING, "ceiling")


@builtin("round up", "n, scale", 1)
def round_up(n: Any, scale: Any = None) -> Decimal:
    return _round(n, scale, decimal.ROUND_UP, "round up")


@builtin("round down", "n, scale", 1)
def round_down(n: Any, scale: Any = None) -> Decimal:
    return _round(n, scale, decimal.ROUND_DOWN, "round down")


@builtin("round half up", "n, scale", 1)
def round_half_up(n: Any, scale: Any = None) -> Decimal:
    return _round(n, scale, decimal.ROUND_HALF_UP, "round half up")


@builtin("round half down", "n, scale", 1)
def round_half_down(n: Any, scale: Any = None) -> Decimal:
    return _round(n, scale, decimal.ROUND_HALF_DOWN, "round half down")


@builtin("abs", "n")
def abs_(n: Any) -> Any:
    if isinstance(n, Decimal):
        return abs(n)
    if isinstance(n, timedelta):
        return abs(n)
    if isinstance(n, YearsMonths):
        return YearsMonths(abs(n.months))
    return number_arg(n, "abs", "n")


@builtin("modulo", "dividend, divisor")
def modulo(dividend: Any, divisor: Any) -> Decimal | None:
    a, b = number_arg(dividend, "modulo", "dividend"), number_arg(divisor, "modulo", "divisor")
    if b == 0:
        return None
    quotient = CONTEXT.divide(a, b).to_integral_value(rounding=decimal.ROUND_FLOOR)
    return CONTEXT.subtract(a, CONTEXT.multiply(b, quotient))


@builtin("sqrt", "number")
def sqrt(n: Any) -> Decimal | None:
    value = number_arg(n, "sqrt", "number")
    return None if value < 0 else CONTEXT.sqrt(value)


@builtin("log", "number")
def log(n: Any) -> Decimal | None:
    value = number_arg(n, "log", "number")
    return None if value <= 0 else CONTEXT.ln(value)


@builtin("exp", "number")
def exp(n: Any) -> Decimal:
    try:
        return CONTEXT.exp(number_arg(n, "exp", "number"))
    except decimal.Overflow as err:
        raise FeelLimit("exp(): number is too large") from err


@builtin("odd", "number")
def odd(n: Any) -> bool:
    value = number_arg(n, "odd", "number")
    return value == value.to_integral_value() and int(value) % 2 == 1


@builtin("even", "number")
def even(n: Any) -> bool:
    value = number_arg(n, "even", "number")
    return value == value.to_integral_value() and int(value) % 2 == 0
