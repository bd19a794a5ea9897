"""Conversion, boolean, temporal and context functions of FEEL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation, Overflow
from typing import Any

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.functions.library import builtin, int_arg, text_arg
from engine.dmn.feel.state import EvalState
from engine.dmn.feel.temporal import (
    YearsMonths,
    combine,
    join_time,
    make_date,
    months_between,
    parse_date,
    parse_date_time,
    parse_duration,
    parse_time,
    parse_zone,
)
from engine.dmn.feel.values import CONTEXT, to_text, type_name

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@builtin("date", "from|year, month, day", 1, counts=(1, 3))
def date_(value: Any, month: Any = None, day: Any = None) -> date:
    if month is not None or day is not None:
        year = int_arg(value, "date", "year")
        return _date(year, int_arg(month, "date", "month"), int_arg(day, "date", "day"))
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_date(text_arg(value, "date", "from"))


def _date(year: int, month: int, day: int) -> date:
    try:
        return make_date(year, month, day)
    except ValueError as err:
        raise FeelError(f"date(): no such date {year}-{month}-{day}") from err


@builtin("time", "from|hour, minute, second, offset", 1, counts=(1, 3, 4), nulls=True)
def time_(value: Any, minute: Any = None, second: Any = None, offset: Any = None) -> time | None:
    if value is None:
        return None
    if minute is not None or second is not None:
        return _time(value, minute, second, offset)
    if isinstance(value, datetime):
        return value.timetz()
    if isinstance(value, time):
        return value
    if isinstance(value, date):
        return time(0, 0, 0, tzinfo=UTC)  # a date's midnight, UTC
    return parse_time(text_arg(value, "time", "from"))


def _time(hour: Any, minute: Any, second: Any, offset: Any) -> time | None:
    if hour is None or minute is None or second is None:
        return None
    h, m = int_arg(hour, "time", "hour"), int_arg(minute, "time", "minute")
    if not isinstance(second, Decimal):
        raise FeelError(f"time(): second must be a number, not {type_name(second)}")
    whole = int(second)
    nanos = int((second - whole) * 1_000_000_000)
    micro, nanos = divmod(nanos, 1000)
    zone = None
    if offset is not None:
        if not isinstance(offset, timedelta):
            raise FeelError("time(): offset must be a days and time duration")
        zone = parse_zone(_offset_text(offset))
    try:
        return join_time(time(h, m, whole, micro, tzinfo=zone), nanos)
    except ValueError as err:
        raise FeelError(f"time(): no such time {h}:{m}:{second}") from err


def _offset_text(offset: timedelta) -> str:
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    minutes, seconds = divmod(abs(total), 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"


@builtin("date and time", "from|date, time", 1)
def date_and_time(value: Any, moment: Any = None) -> datetime:
    if moment is not None:
        if not isinstance(value, date) or not isinstance(moment, time):
            raise FeelError("date and time(): expects a date and a time")
        return combine(value.date() if isinstance(value, datetime) else value, moment)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return combine(value, time())
    return parse_date_time(text_arg(value, "date and time", "from"))


@builtin("duration", "from")
def duration(value: Any) -> timedelta | YearsMonths:
    return parse_duration(text_arg(value, "duration", "from"))


@builtin("years and months duration", "from, to")
def years_and_months_duration(start: Any, end: Any) -> YearsMonths:
    if not isinstance(start, date) or not isinstance(end, date):
        raise FeelError("years and months duration(): expects two dates")
    return months_between(start, end)


@builtin("number", "from, grouping separator, decimal separator", 1, counts=(1, 3), nulls=True)
def number(value: Any, grouping: Any = None, decimal_sep: Any = None) -> Decimal | None:
    if value is None:
        return None
    text = text_arg(value, "number", "from")
    if grouping is not None:
        if grouping not in (" ", ",", "."):
            raise FeelError("number(): grouping separator must be ' ', ',' or '.'")
        text = text.replace(grouping, "")
    if decimal_sep is not None:
        if decimal_sep not in (",", ".") or decimal_sep == grouping:
            raise FeelError("number(): decimal separator must be ',' or '.', and differ from the grouping")
        text = text.replace(decimal_sep, ".")
    if not _NUMBER.fullmatch(text.strip()):
        return None
    try:
        return CONTEXT.create_decimal(text.strip())  # rounded to 34 digits as it is read, never a million
    except InvalidOperation:
        return None
    except Overflow as err:
        raise FeelLimit("number(): number is too large") from err


@builtin("string", "from")
def string(value: Any) -> str:
    return to_text(value)


@builtin("not", "negand", nulls=True)
def not_(value: Any) -> bool | None:
    return (not value) if isinstance(value, bool) else None


@builtin("today", "", needs_state=True)
def today(state: EvalState) -> date:
    return state.now().date()


@builtin("now", "", needs_state=True)
def now(state: EvalState) -> datetime:
    return state.now()


def _date_arg(value: Any, function: str) -> date:
    if not isinstance(value, date):
        raise FeelError(f"{function}(): expects a date, not {type_name(value)}")
    return value


@builtin("day of year", "date")
def day_of_year(value: Any) -> Decimal:
    return Decimal(_date_arg(value, "day of year").timetuple().tm_yday)


@builtin("day of week", "date")
def day_of_week(value: Any) -> str:
    return DAYS[_date_arg(value, "day of week").weekday()]


@builtin("month of year", "date")
def month_of_year(value: Any) -> str:
    return MONTHS[_date_arg(value, "month of year").month - 1]


@builtin("week of year", "date")
def week_of_year(value: Any) -> Decimal:
    return Decimal(_date_arg(value, "week of year").isocalendar()[1])


@builtin("get value", "m, key")
def get_value(mapping: Any, key: Any) -> Any:
    if not isinstance(mapping, dict):
        raise FeelError(f"get value(): expects a context, not {type_name(mapping)}")
    return mapping.get(text_arg(key, "get value", "key"))


@builtin("get entries", "m")
def get_entries(mapping: Any) -> list[dict[str, Any]]:
    if not isinstance(mapping, dict):
        raise FeelError(f"get entries(): expects a context, not {type_name(mapping)}")
    return [{"key": k, "value": v} for k, v in mapping.items()]


@builtin("is defined", "value", nulls=True)
def is_defined(value: Any) -> bool:
    return value is not None
