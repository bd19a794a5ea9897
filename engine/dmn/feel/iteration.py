"""Iteration at run time: the bindings of `for`, `some` and `every` (the last variable varies fastest), and
filters `list[condition]`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from engine.dmn.feel.errors import FeelError
from engine.dmn.feel.scope import Fn, Scope
from engine.dmn.feel.state import check_items


def apply_filter(s: Scope, items: list[Any], condition: Fn) -> Any:
    """`list[condition]`: an item by (1-based, negative from the end) index, or the items it keeps."""
    first = condition(_item_scope(s, items[0] if items else None))
    if isinstance(first, Decimal):
        if first != first.to_integral_value() or first == 0 or abs(first) > len(items):
            return None
        index = int(first)
        return items[index - 1] if index > 0 else items[index]
    kept = []
    for i, item in enumerate(items):
        s.state.tick()
        result = first if i == 0 else condition(_item_scope(s, item))
        if result is True:
            kept.append(item)
    return kept


def _item_scope(s: Scope, item: Any) -> Scope:
    values = dict(item) if isinstance(item, dict) else {}
    values["item"] = item
    return s.child(values)


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
        return [] if start is None else (start if isinstance(start, list) else [start])
    stop = end(s)
    if not isinstance(start, Decimal) or not isinstance(stop, Decimal):
        raise FeelError("'for x in a..b' needs two numbers")
    if start != start.to_integral_value() or stop != stop.to_integral_value():
        raise FeelError("'for x in a..b' needs whole numbers")
    check_items(int(abs(stop - start)) + 1)
    step = 1 if stop >= start else -1
    return [Decimal(i) for i in range(int(start), int(stop) + step, step)]
