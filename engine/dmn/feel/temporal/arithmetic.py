"""Arithmetic on FEEL dates, times and date-times: moving them by durations, their differences.

Works for every FEEL year (-999,999,999 to 999,999,999) and keeps nanoseconds: see `wide.py`.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.temporal.fine import (
    nanos_to_delta,
)
from engine.dmn.feel.temporal.text import YearsMonths
from engine.dmn.feel.temporal.wide import (
    BASE_YEAR,
    CYCLE_YEARS,
    MAX_YEAR,
    MIN_YEAR,
    add_to_date_time,
    combine,
    date_from_ordinal,
    date_parts,
    date_time_parts,
    instant,
    join_date_time,
    make_date,
)


def add_months(value: date, months: int) -> date:
    """Shift by whole months; the day is clamped to the month's last day (Jan 31 + 1 month = Feb 28)."""
    total = value.year * 12 + (value.month - 1) + months
    year, month = divmod(total, 12)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FeelLimit("date out of range")
    day = min(value.day, calendar.monthrange(BASE_YEAR + (year - BASE_YEAR) % CYCLE_YEARS, month + 1)[1])
    if not isinstance(value, datetime):
        return make_date(year, month + 1, day)
    cycles, base, nanos = date_time_parts(value)
    moved = make_date(year, month + 1, day)
    more, moved_base = date_parts(moved)
    return join_date_time(base.replace(year=moved_base.year, month=month + 1, day=day), more, nanos)


def shift(value: date | datetime | time, delta: timedelta | YearsMonths) -> date | datetime | time:
    """A date, date and time or time moved by a duration; raises FeelError out of range."""
    if type(delta) is timedelta and type(value) in _PLAIN:  # Python's own values: Python's arithmetic
        try:
            moved: date | datetime | time = _PLAIN[type(value)](value, delta)
            return moved
        except OverflowError:
            pass  # past year 9999 or before year 1: the wide values below
    try:
        if isinstance(delta, YearsMonths):
            if isinstance(value, time):
                raise FeelError("a time cannot be moved by years and months")
            return add_months(value, delta.months)
        if isinstance(value, datetime):
            return add_to_date_time(value, delta)
        if isinstance(value, date):
            return date_from_ordinal(value.toordinal() + delta.days)  # the time of day does not count
        moved = add_to_date_time(combine(date(2000, 1, 1), value.replace(tzinfo=None)), delta)
        return moved.time().replace(tzinfo=value.tzinfo)
    except OverflowError as err:
        raise FeelLimit("date out of range") from err


def _time_plus(value: time, delta: timedelta) -> time:
    moved = datetime.combine(date(2000, 1, 1), value.replace(tzinfo=None)) + delta
    return moved.time().replace(tzinfo=value.tzinfo)


_PLAIN: dict[type, Any] = {
    datetime: datetime.__add__,
    date: lambda value, delta: value + timedelta(days=delta.days),  # the time of day does not count
    time: _time_plus,
}


def months_between(start: date, end: date) -> YearsMonths:
    """Whole months from `start` to `end` (as `years and months duration(from, to)`)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    start_rest, end_rest = start.day, end.day  # the time of day does not count (DMN 1.5, 10.3.4.7)
    if months > 0 and end_rest < start_rest:
        months -= 1
    elif months < 0 and end_rest > start_rest:
        months += 1
    return YearsMonths(months)


def difference(left: date | datetime | time, right: date | datetime | time) -> timedelta:
    """`left - right` as a days and time duration; raises FeelError for mixed kinds or zones."""
    if type(left) is datetime and type(right) is datetime and (left.tzinfo is None) == (right.tzinfo is None):
        return left - right
    if isinstance(left, time) and isinstance(right, time):
        left = combine(date(2000, 1, 1), left)
        right = combine(date(2000, 1, 1), right)
    elif not isinstance(left, datetime) and not isinstance(right, datetime):
        return timedelta(days=left.toordinal() - right.toordinal())  # type: ignore[union-attr]
    else:  # a date with a date and time: the date is its midnight UTC (DMN 1.5, 10.3.2.3.6)
        left, right = _as_datetime(left, UTC), _as_datetime(right, UTC)  # type: ignore[arg-type]
    if (left.tzinfo is None) != (right.tzinfo is None):
        raise FeelError("cannot subtract a date and time with a time zone from one without")
    if type(left) is datetime and type(right) is datetime:
        return left - right
    return nanos_to_delta(instant(left) - instant(right))


def _as_datetime(value: date, zone: tzinfo | None = None) -> datetime:
    if isinstance(value, datetime):
        return value
    if type(value) is date:
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    return combine(value, time(tzinfo=zone))
