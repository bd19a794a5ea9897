"""Context, range and identity functions of FEEL (DMN 1.5, 10.3.4.10 to 10.3.4.12): `context`, `context put`,
`context merge`, `list replace`, `is`, `range`, and the range relations (`before`, `after`, `meets`, `met by`,
`overlaps`, `overlaps before`, `overlaps after`, `finishes`, `finished by`, `includes`, `during`, `starts`,
`started by`, `coincides`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.dmn.feel.errors import FeelError, FeelSyntaxError
from engine.dmn.feel.functions.library import builtin, list_arg, text_arg
from engine.dmn.feel.lexer import NAME, NUM, OP, STR, tokenize
from engine.dmn.feel.state import EvalState
from engine.dmn.feel.temporal import parse_date, parse_date_time, parse_duration, parse_temporal, parse_time
from engine.dmn.feel.values import OPEN, Function, Range, compare, equal, type_name

# ---------------------------------------------------------------- contexts


def _entry(value: Any) -> tuple[str, Any]:
    if not isinstance(value, dict) or "key" not in value or "value" not in value:
        raise FeelError("context(): each entry must be a context with a key and a value")
    return text_arg(value["key"], "context", "key"), value["value"]


@builtin("context", "entries", needs_state=True)
def context(state: EvalState, entries: Any) -> dict[str, Any]:
    items = list_arg(entries, "context")
    state.spend(len(items))
    result: dict[str, Any] = {}
    for item in items:
        key, value = _entry(item)
        if key in result:
            raise FeelError(f"context(): key {key!r} appears twice")
        result[key] = value
    return result


@builtin("context put", "context, key|keys, value", nulls=True, needs_state=True)
def context_put(state: EvalState, target: Any, key: Any, value: Any) -> dict[str, Any] | None:
    if not isinstance(target, dict):
        return None
    keys = key if isinstance(key, list) else [key]
    if not keys or not all(isinstance(k, str) for k in keys):
        return None
    state.spend(len(target))
    return _put(target, keys, value)


def _put(target: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any] | None:
    result = dict(target)
    if len(keys) == 1:
        result[keys[0]] = value
        return result
    inner = result.get(keys[0])
    if not isinstance(inner, dict):
        return None
    placed = _put(inner, keys[1:], value)
    if placed is None:
        return None
    result[keys[0]] = placed
    return result


@builtin("context merge", "contexts", needs_state=True)
def context_merge(state: EvalState, contexts: Any) -> dict[str, Any]:
    items = list_arg(contexts, "context merge")
    result: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict):
            raise FeelError(f"context merge(): expects contexts, not {type_name(item)}")
        state.spend(len(item))
        result.update(item)
    return result


@builtin("list replace", "list, position|match, newItem", nulls=True, needs_state=True)
def list_replace(state: EvalState, items: Any, where: Any, new: Any) -> list[Any] | None:
    if items is None or where is None:
        return None
    values = list(list_arg(items, "list replace"))
    state.spend(len(values))
    if isinstance(where, Function):
        result = []
        for item in values:
            hit = where.call(state, [item, new])
            if not isinstance(hit, bool):
                raise FeelError("list replace(): match must return true or false")
            result.append(new if hit else item)
        return result
    if not isinstance(where, Decimal):
        raise FeelError(f"list replace(): position must be a number or a function, not {type_name(where)}")
    position = int(where)
    if position == 0 or abs(position) > len(values):
        raise FeelError(f"list replace(): position {position} is outside the list")
    values[position - 1 if position > 0 else position] = new
    return values


# ---------------------------------------------------------------- identity


@builtin("is", "value1, value2", nulls=True)
def is_(left: Any, right: Any) -> bool:
    """Same type and same value, and for times and dates and times the same offset or zone (`is(@"10:00Z",
    @"10:00+00:00")` is true, `is(@"10:00@Etc/GMT", @"10:00Z")` false)."""
    if left is None or right is None:
        return left is None and right is None
    if type(left) is not type(right) or not equal(left, right):
        return False
    if isinstance(left, time | datetime):
        return _zone(left) == _zone(right)
    return True


def _zone(value: time | datetime) -> tuple[Any, str | None]:
    zone = value.tzinfo
    key = getattr(zone, "key", None)
    offset = value.utcoffset() if isinstance(value, datetime) else zone.utcoffset(None) if zone and not key else None
    return offset, key


# ---------------------------------------------------------------- ranges from text

_CLOSERS = {"[": True, "(": False, "]": False}
_ENDERS = {"]": True, ")": False, "[": False}
_CONSTRUCTORS: dict[str, Callable[[str], Any]] = {
    "date": parse_date,
    "time": parse_time,
    "date and time": parse_date_time,
    "duration": parse_duration,
}


@builtin("range", "from")
def range_(text: Any) -> Range:
    """`range("[1..10)")`: a range whose endpoints are literals (numbers, strings, `@"..."`, `date("...")`)."""
    source = text_arg(text, "range", "from")
    try:
        tokens = tokenize(source)[:-1]
    except FeelSyntaxError as err:
        raise FeelError(f"range(): {source!r} is not a range: {err}") from err
    if len(tokens) < 3 or tokens[0].kind != OP or tokens[0].value not in _CLOSERS or tokens[-1].value not in _ENDERS:
        raise FeelError(f"range(): {source!r} is not a range")
    dots = [i for i, t in enumerate(tokens) if t.value == ".." and t.kind != STR]
    if len(dots) != 1:
        raise FeelError(f"range(): {source!r} is not a range")
    low = _endpoint(tokens[1 : dots[0]], source)
    high = _endpoint(tokens[dots[0] + 1 : -1], source)
    if low is None or high is None:
        raise FeelError(f"range(): {source!r} needs both endpoints")
    if type(low) is not type(high) or (compare(low, high) or 0) > 0:
        raise FeelError(f"range(): the endpoints of {source!r} do not make a range")
    return Range(low, high, _CLOSERS[tokens[0].value], _ENDERS[tokens[-1].value])


def _endpoint(tokens: list[Any], source: str) -> Any:
    kinds = [t.kind for t in tokens]
    try:
        if kinds == [NUM]:
            return Decimal(tokens[0].value)
        if kinds == [STR]:
            return tokens[0].value
        if len(tokens) == 2 and tokens[0].value == "@" and tokens[1].kind == STR:
            return parse_temporal(tokens[1].value)
        if (
            len(tokens) >= 4
            and all(t.kind == NAME for t in tokens[:-3])
            and [t.value for t in tokens[-3::2]]
            == [
                "(",
                ")",
            ]
        ):
            name = " ".join(t.value for t in tokens[:-3])
            if name in _CONSTRUCTORS and tokens[-2].kind == STR:
                return _CONSTRUCTORS[name](tokens[-2].value)
    except InvalidOperation as err:
        raise FeelError(f"range(): {source!r} has an endpoint that is not a literal") from err
    raise FeelError(f"range(): {source!r} has an endpoint that is not a literal")


# ---------------------------------------------------------------- range relations (DMN 1.5, table 78)


def _is_point(value: Any) -> bool:
    return value is not None and not isinstance(value, Range | list | dict | bool | Function)


def _cmp(a: Any, b: Any) -> int:
    result = compare(a, b)
    if result is None:
        raise FeelError("the values cannot be compared")
    return result


def _lt(a: Any, b: Any) -> bool:
    return _cmp(a, b) < 0


def _eq(a: Any, b: Any) -> bool:
    return _cmp(a, b) == 0


def _relation(
    name: str,
    points: Callable[[Any, Any], bool] | None,
    point_range: Callable[[Any, Range], bool] | None,
    range_point: Callable[[Range, Any], bool] | None,
    ranges: Callable[[Range, Range], bool],
) -> None:
    def relate(left: Any, right: Any) -> bool:
        for value in (left, right):
            if isinstance(value, Range) and (value.low in (None, OPEN) or value.high in (None, OPEN)):
                raise FeelError(f"{name}(): open-ended ranges are not supported")
        if isinstance(left, Range) and isinstance(right, Range):
            return ranges(left, right)
        if isinstance(left, Range) and _is_point(right) and range_point:
            return range_point(left, right)
        if _is_point(left) and isinstance(right, Range) and point_range:
            return point_range(left, right)
        if _is_point(left) and _is_point(right) and points:
            return points(left, right)
        raise FeelError(f"{name}(): expects points or ranges, not {type_name(left)} and {type_name(right)}")

    first = "point1|point|range|range1"
    second = "point2|range|point|range2"
    builtin(name, f"{first}, {second}")(relate)


def _before_pr(p: Any, r: Range) -> bool:
    return _lt(p, r.low) or (_eq(p, r.low) and not r.low_closed)


def _before_rp(r: Range, p: Any) -> bool:
    return _lt(r.high, p) or (_eq(r.high, p) and not r.high_closed)


def _before_rr(a: Range, b: Range) -> bool:
    return _lt(a.high, b.low) or ((not a.high_closed or not b.low_closed) and _eq(a.high, b.low))


def _meets(a: Range, b: Range) -> bool:
    return a.high_closed and b.low_closed and _eq(a.high, b.low)


def _overlaps(a: Range, b: Range) -> bool:
    return (_lt(b.low, a.high) or (_eq(a.high, b.low) and a.high_closed and b.low_closed)) and (
        _lt(a.low, b.high) or (_eq(a.low, b.high) and a.low_closed and b.high_closed)
    )


def _overlaps_before(a: Range, b: Range) -> bool:
    return (
        (_lt(a.low, b.low) or (_eq(a.low, b.low) and a.low_closed and not b.low_closed))
        and (_lt(b.low, a.high) or (_eq(a.high, b.low) and a.high_closed and b.low_closed))
        and (_lt(a.high, b.high) or (_eq(a.high, b.high) and (not a.high_closed or b.high_closed)))
    )


def _finishes_pr(p: Any, r: Range) -> bool:
    return r.high_closed and _eq(r.high, p)


def _finishes_rr(a: Range, b: Range) -> bool:
    return (
        a.high_closed == b.high_closed
        and _eq(a.high, b.high)
        and (_lt(b.low, a.low) or (_eq(a.low, b.low) and (not a.low_closed or b.low_closed)))
    )


def _includes_rp(r: Range, p: Any) -> bool:
    return (_lt(r.low, p) and _lt(p, r.high)) or (_eq(r.low, p) and r.low_closed) or (_eq(r.high, p) and r.high_closed)


def _includes_rr(a: Range, b: Range) -> bool:
    return (_lt(a.low, b.low) or (_eq(a.low, b.low) and (a.low_closed or not b.low_closed))) and (
        _lt(b.high, a.high) or (_eq(a.high, b.high) and (a.high_closed or not b.high_closed))
    )


def _starts_pr(p: Any, r: Range) -> bool:
    return r.low_closed and _eq(r.low, p)


def _starts_rr(a: Range, b: Range) -> bool:
    return (
        _eq(a.low, b.low)
        and a.low_closed == b.low_closed
        and (_lt(a.high, b.high) or (_eq(a.high, b.high) and (not a.high_closed or b.high_closed)))
    )


def _coincides_rr(a: Range, b: Range) -> bool:
    return _eq(a.low, b.low) and a.low_closed == b.low_closed and _eq(a.high, b.high) and a.high_closed == b.high_closed


_relation("before", _lt, _before_pr, _before_rp, _before_rr)
_relation(
    "after",
    lambda a, b: _lt(b, a),
    lambda p, r: _before_rp(r, p),
    lambda r, p: _before_pr(p, r),
    lambda a, b: _before_rr(b, a),
)
_relation("meets", None, None, None, _meets)
_relation("met by", None, None, None, lambda a, b: _meets(b, a))
_relation("overlaps", None, None, None, _overlaps)
_relation("overlaps before", None, None, None, _overlaps_before)
_relation("overlaps after", None, None, None, lambda a, b: _overlaps_before(b, a))
_relation("finishes", None, _finishes_pr, None, _finishes_rr)
_relation("finished by", None, None, lambda r, p: _finishes_pr(p, r), lambda a, b: _finishes_rr(b, a))
_relation("includes", None, None, _includes_rp, _includes_rr)
_relation("during", None, lambda p, r: _includes_rp(r, p), None, lambda a, b: _includes_rr(b, a))
_relation("starts", None, _starts_pr, None, _starts_rr)
_relation("started by", None, None, lambda r, p: _starts_pr(p, r), lambda a, b: _starts_rr(b, a))
_relation("coincides", _eq, None, None, _coincides_rr)
