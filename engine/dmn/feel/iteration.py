"""Iteration at run time: the bindings of `for`, `some` and `every` (the last variable varies fastest), and
filters `list[condition]`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from engine.dmn.feel.errors import FeelError
from engine.dmn.feel.scope import Fn, ItemScope, Scope
from engine.dmn.feel.state import check_items
from engine.dmn.feel.temporal import date_from_ordinal, is_date
from engine.dmn.feel.values import Range, compare


def apply_filter(s: Scope, items: list[Any], condition: Fn) -> Any:
    """`list[condition]`: an item by (1-based, negative from the end) index, or the items it keeps."""
    first = condition(_item_scope(s, items[0] if items else None))
    if isinstance(first, Decimal):
        if first != first.to_integral_value() or first == 0 or abs(first) > len(items):
            return None
        index = int(first)
        return items[index - 1] if index > 0 else items[index]
    kept: list[Any] = []
    for i, item in enumerate(items):
        s.state.tick()
        result = first if i == 0 else condition(_item_scope(s, item))
        if result is True:
            kept.append(item)
    s.state.allocate(len(kept))
    return kept


def _item_scope(s: Scope, item: Any) -> Scope:
    return ItemScope(item, s)


def bindings(s: Scope, iterations: list[tuple[str, Fn, Fn | None]], index: int = 0) -> Iterator[Scope]:
    """Every combination of the iteration variables, as nested scopes (the last varies fastest)."""
    if index == len(iterations):
        yield s
        return
    name, source, end = iterations[index]
    for item in _iteration_values(s, source, end):
        s.state.tick()
        yield from bindings(s.child({name: item}), iterations, index + 1)


def _iteration_values(s: Scope, source: Fn, end: Fn | None) -> list[Any]:
    start = source(s)
    if end is None:
        if isinstance(start, Range):  # `for i in [1..3]`: the whole numbers or days of an ascending range
            return _range_values(s, start)
        return [] if start is None else (start if isinstance(start, list) else [start])
    return _steps(s, start, end(s), True, True)


def _range_values(s: Scope, span: Range) -> list[Any]:
    if (compare(span.low, span.high) or 0) > 0:
        raise FeelError("a range to iterate over must ascend")
    return _steps(s, span.low, span.high, span.low_closed, span.high_closed)


def _steps(s: Scope, start: Any, stop: Any, first: bool, last: bool) -> list[Any]:
    """The whole numbers (or the days) from `start` to `stop`, up or down; `first`, `last`: the ends included."""
    if is_date(start) and is_date(stop):
        begin, end = start.toordinal(), stop.toordinal()
        return [date_from_ordinal(i) for i in _integers(s, begin, end, first, last)]
    if not isinstance(start, Decimal) or not isinstance(stop, Decimal):
        raise FeelError("'for x in a..b' needs two numbers or two dates")
    if start != start.to_integral_value() or stop != stop.to_integral_value():
        raise FeelError("'for x in a..b' needs whole numbers")
    return [Decimal(i) for i in _integers(s, int(start), int(stop), first, last)]


def _integers(s: Scope, start: int, stop: int, first: bool, last: bool) -> range:
    check_items(abs(stop - start) + 1)
    s.state.allocate(abs(stop - start) + 1)
    step = 1 if stop >= start else -1
    return range(start if first else start + step, stop + step if last else stop, step)
