"""Instance variables as plain JSON values."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Variables as JSON: dates as ISO text, Decimals as numbers, sets as lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple | set | frozenset):
        if all(type(v) in _PLAIN for v in value):  # the common case, ~20x faster on long lists
            return list(value)
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------- bounds: what can be saved and loaded again

_SCALAR_BYTES = {bool: 5, type(None): 4, float: 24}
_SAVED_AS_TEXT = (date, timedelta, Decimal, UUID)  # the kinds the state's registry converts (datetime is a date)
_KEYS = frozenset({str, int, float, bool, type(None)})  # dict keys JSON can write
_MAX_INT = 10**4300  # Python refuses to print longer ints (sys.get_int_max_str_digits), so JSON could not write it


def oversized(variables: Mapping[str, Any], max_depth: int, max_bytes: int) -> tuple[str, str] | None:
    """The first variable nested deeper than `max_depth` levels, with which the variables take more than
    `max_bytes` as JSON (estimated), or holding what a saved state cannot hold (a set, bytes, a tuple as a key,
    an int too long to print, NaN), and why; None when all fit. Functions (dropped when saved) are skipped.

    The walk uses no recursion (a value nested 100,000 levels is reported, not a RecursionError) and stops
    as soon as a bound is passed, so it costs at most `max_bytes` steps whatever the value shares or cycles."""
    total = 2
    for name, value in variables.items():
        if callable(value):
            continue  # functions a script defined: dropped when saved
        total += len(str(name)) + 4
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            kind = type(item)
            if kind is str:
                total += len(item) + 2
            elif kind is int:
                if item.bit_length() > 14_000 and abs(item) >= _MAX_INT:
                    return name, "holds an integer of more than 4,300 digits: a saved state cannot"
                total += item.bit_length() // 3 + 1
            elif (kind is float and not math.isfinite(item)) or (kind is Decimal and not item.is_finite()):
                return name, f"holds {item}: JSON cannot"
            elif kind in _SCALAR_BYTES:
                total += _SCALAR_BYTES[kind]
            elif kind is set or kind is frozenset:
                return name, f"holds a {kind.__name__}: a saved state cannot (a list can)"
            elif isinstance(item, dict | list | tuple):
                if depth > max_depth:
                    return name, f"nests deeper than {max_depth} levels"
                if isinstance(item, list) and (flat := _flat_size(item)) is not None:  # the common case, in C
                    total += flat
                    if total > max_bytes:
                        return name, _too_large(max_bytes)
                    continue
                total += 2 + len(item)
                if total > max_bytes:
                    return name, _too_large(max_bytes)
                if isinstance(item, dict):
                    if not all(type(k) in _KEYS for k in item):
                        key = next(k for k in item if type(k) not in _KEYS)
                        return name, f"has a key of type {type(key).__name__}: a saved state cannot (keys are text)"
                    total += sum(len(str(k)) + 3 for k in item)
                    stack.extend((v, depth + 1) for v in item.values() if not callable(v))  # dropped when saved
                else:
                    stack.extend((v, depth + 1) for v in item)
            elif isinstance(item, _SAVED_AS_TEXT):
                total += 32  # dates, decimals: saved as short text or numbers (jsonable)
            else:
                return name, f"holds a value of type {kind.__name__}: a saved state cannot"
            if total > max_bytes:
                return name, _too_large(max_bytes)
    return None


def _flat_size(items: list[Any]) -> int | None:
    """The JSON size of a list of plain values, or None if it holds anything else (or an int too long to print)."""
    if not all(type(v) in _PLAIN for v in items):
        return None
    try:
        return len(json.dumps(items, allow_nan=False))
    except ValueError:
        return None


def _too_large(max_bytes: int) -> str:
    return f"makes the variables larger than {max_bytes:,} bytes"
