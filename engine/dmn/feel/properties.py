"""Properties of FEEL values: `date.year`, `time.hour`, `duration.days`, `range.start`, ... and `x.name` on
contexts and lists of contexts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.dmn.feel.state import EvalState
from engine.dmn.feel.values import OPEN, type_name


def read_property(state: EvalState, value: Any, name: str) -> Any:
    """`value.name`: a context entry, the same entry of every context in a list, or a property."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(name)
    if isinstance(value, list):
        state.allocate(len(value))  # a list of the same big list over and over is read item by item
        return [read_property(state, v, name) for v in value]
    getter = _PROPERTIES.get((type_name(value), name))
    if getter is None:
        state.warn(f"a {type_name(value)} has no property {name!r}; it was taken as null")
        return None
    return getter(value)


def _offset(value: time | datetime) -> timedelta | None:
    return value.utcoffset()


def _zone(value: time | datetime) -> str | None:
    zone = value.tzinfo
    return getattr(zone, "key", None) or (zone.tzname(None) if zone is not None else None)


_DATE_PROPS: dict[str, Callable[[Any], Any]] = {
    "year": lambda v: Decimal(v.year),
    "month": lambda v: Decimal(v.month),
    "day": lambda v: Decimal(v.day),
    "weekday": lambda v: Decimal(v.isoweekday()),
}
_TIME_PROPS: dict[str, Callable[[Any], Any]] = {
    "hour": lambda v: Decimal(v.hour),
    "minute": lambda v: Decimal(v.minute),
    "second": lambda v: Decimal(v.second),
    "time offset": _offset,
    "timezone": _zone,
}
_PROPERTIES: dict[tuple[str, str], Callable[[Any], Any]] = {
    **{("date", k): f for k, f in _DATE_PROPS.items()},
    **{("date and time", k): f for k, f in {**_DATE_PROPS, **_TIME_PROPS}.items()},
    **{("time", k): f for k, f in _TIME_PROPS.items()},
    ("days and time duration", "days"): lambda v: Decimal(v.days if v >= timedelta(0) else -(-v).days),
    ("days and time duration", "hours"): lambda v: Decimal(abs(v).seconds // 3600 * (1 if v >= timedelta(0) else -1)),
    ("days and time duration", "minutes"): lambda v: Decimal(
        abs(v).seconds // 60 % 60 * (1 if v >= timedelta(0) else -1)
    ),
    ("days and time duration", "seconds"): lambda v: Decimal(abs(v).seconds % 60 * (1 if v >= timedelta(0) else -1)),
    ("years and months duration", "years"): lambda v: Decimal(int(v.months / 12)),
    ("years and months duration", "months"): lambda v: Decimal(int(abs(v.months) % 12 * (1 if v.months >= 0 else -1))),
    ("range", "start"): lambda v: None if v.low is OPEN else v.low,
    ("range", "end"): lambda v: None if v.high is OPEN else v.high,
    ("range", "start included"): lambda v: v.low_closed,
    ("range", "end included"): lambda v: v.high_closed,
}
