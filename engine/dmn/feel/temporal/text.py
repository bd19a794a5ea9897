"""FEEL dates, times, date-times and the two duration types: parsing and printing.

Values are Python's `date`, `time`, `datetime` and `timedelta` (days and time duration),
plus `YearsMonths` (years and months duration), and the wide values of `wide.py` for years
outside 1-9999 and nanoseconds. Times and date-times may carry a UTC offset or an IANA zone
(`@Europe/Berlin`); without one they are local (naive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.temporal.fine import (
    FineDuration,
    FineTime,
    join_time,
    nanos_to_delta,
)
from engine.dmn.feel.temporal.wide import (
    WideDateTime,
    add_to_date_time,
    combine,
    date_parts,
    format_year,
    make_date,
)

_DATE = re.compile(r"(-?(?:[1-9]\d{4,8}|\d{4}))-(\d\d)-(\d\d)")  # more than 4 digits: no leading zero
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d(?::\d\d)?|@[A-Za-z_+\-/0-9]{1,60})?")
_DAY_TIME = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?")
_YEAR_MONTH = re.compile(r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?")
MAX_DURATION_DAYS = 999_999_999


@dataclass(frozen=True, order=True)
class YearsMonths:
    """A years and months duration, held as a signed number of months."""

    months: int

    def __str__(self) -> str:
        return format_years_months(self)


def parse_date(text: str) -> date:
    """`YYYY-MM-DD`; raises FeelError."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        raise FeelError(f"{text!r} is not a date (YYYY-MM-DD)")
    return _make_date(int(match[1]), int(match[2]), int(match[3]))


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return make_date(year, month, day)
    except (ValueError, OverflowError) as err:
        raise FeelError(f"no such date: {format_year(year)}-{month:02d}-{day:02d}") from err


def parse_time(text: str) -> time:
    """`HH:MM:SS[.fff][Z|+hh:mm|@Zone]`; raises FeelError."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise FeelError(f"{text!r} is not a time (HH:MM:SS)")
    return _make_time(match)


def _make_time(match: re.Match[str]) -> time:
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    fraction = (match[4] or "0").ljust(9, "0")
    micro, nanos = int(fraction[:6]), int(fraction[6:])
    if hour == 24 and minute == second == micro == nanos == 0:  # ISO 8601's end of day is the next day's midnight
        hour = 0
    elif hour > 23 or minute > 59 or second > 59:
        raise FeelError(f"no such time: {match[0]}")
    return join_time(time(hour, minute, second, micro, tzinfo=parse_zone(match[5])), nanos)


def parse_zone(text: str | None) -> tzinfo | None:
    """`Z`, `+01:00` or `@Europe/Berlin` as a tzinfo; None for none; raises FeelError."""
    if not text:
        return None
    if text == "Z":
        return UTC
    if text.startswith("@"):
        try:
            return ZoneInfo(text[1:])
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise FeelError(f"unknown time zone {text[1:]!r}") from err
    sign = -1 if text[0] == "-" else 1
    hours, minutes, seconds = int(text[1:3]), int(text[4:6]), int(text[7:9] or 0)
    if hours > 18 or minutes > 59 or seconds > 59:
        raise FeelError(f"time offset {text!r} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def parse_date_time(text: str) -> datetime:
    """`YYYY-MM-DDTHH:MM:SS[...]`, or a date alone (midnight); raises FeelError."""
    text = text.strip()
    if "T" not in text:
        return combine(parse_date(text), time())
    day_text, _, time_text = text.partition("T")
    result = combine(parse_date(day_text), parse_time(time_text))
    if time_text.startswith("24"):  # 24:00:00 ends the day: the next day's midnight
        try:
            result = add_to_date_time(result, timedelta(days=1))
        except FeelLimit as err:
            raise FeelError(f"no such date and time: {text}") from err
    return result


def parse_duration(text: str) -> timedelta | YearsMonths:
    """ISO 8601 `P1DT2H` (days and time) or `P1Y2M` (years and months); raises FeelError."""
    text = text.strip()
    match = _DAY_TIME.fullmatch(text)
    if match and any(match.group(i) for i in (2, 3, 4, 5)) and not text.endswith("T"):
        days, hours, minutes = (int(match.group(i) or 0) for i in (2, 3, 4))
        seconds = match.group(5) or "0"
        if days > MAX_DURATION_DAYS or hours > 24 * MAX_DURATION_DAYS or len(seconds) > 40:
            raise FeelError(f"duration {text!r} is too long")
        try:
            if "." not in seconds:
                value = timedelta(days=days, hours=hours, minutes=minutes, seconds=int(seconds))
                return -value if match.group(1) else value
            nanos = ((days * 24 + hours) * 60 + minutes) * 60 * 10**9 + int(Decimal(seconds).scaleb(9))  # cut past 9
            return nanos_to_delta(-nanos if match.group(1) else nanos)
        except (FeelLimit, OverflowError) as err:
            raise FeelError(f"duration {text!r} is too long") from err
    match = _YEAR_MONTH.fullmatch(text)
    if match and (match.group(2) or match.group(3)):
        months = int(match.group(2) or 0) * 12 + int(match.group(3) or 0)
        if months > 12 * 999_999_999:  # the years FEEL allows
            raise FeelError(f"duration {text!r} is too long")
        return YearsMonths(-months if match.group(1) else months)
    raise FeelError(f"{text!r} is not a duration (e.g. P2D, PT4H, P1Y2M)")


def parse_temporal(text: str) -> date | time | datetime | timedelta | YearsMonths:
    """The value of `@"..."`: a date, time, date and time or duration; raises FeelError."""
    stripped = text.strip()
    if stripped.startswith(("P", "-P")):
        return parse_duration(stripped)
    if "T" in stripped:
        return parse_date_time(stripped)
    if _DATE.fullmatch(stripped):
        return parse_date(stripped)
    if _TIME.fullmatch(stripped):
        return parse_time(stripped)
    raise FeelError(f"{text!r} is not a date, time, date and time or duration")


# ---------------------------------------------------------------- printing


def format_duration(value: timedelta) -> str:
    """`P1DT2H3M4.5S`; `PT0S` for zero; a leading `-` for negative durations."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days, rest = value.days, value.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{days}D" if days else ""
    clock = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M")) if v)
    nanos = value.microseconds * 1000 + (value.nanos if isinstance(value, FineDuration) else 0)
    if seconds or nanos:
        fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
        clock += f"{seconds}{fraction}S"
    if not text and not clock:
        return "PT0S"
    return f"{sign}P{text}" + (f"T{clock}" if clock else "")


def format_years_months(value: YearsMonths) -> str:
    """`P1Y2M`; `P0M` for zero."""
    sign = "-" if value.months < 0 else ""
    years, months = divmod(abs(value.months), 12)
    text = (f"{years}Y" if years else "") + (f"{months}M" if months or not years else "")
    return f"{sign}P{text}"


def format_time(value: time) -> str:
    """`10:30:00`, `10:30:00.987`, with `Z`, `+01:00` or `@Zone` when the time has a zone."""
    return _clock_text(value) + _zone_suffix(value.tzinfo, value.utcoffset())


def format_date(value: date) -> str:
    """`2026-01-01`, `-0044-03-15`, `12026-01-01`."""
    if type(value) is date:
        return value.isoformat()
    cycles, base = date_parts(value)
    if not cycles:
        return base.isoformat()
    return f"{format_year(value.year)}-{base.month:02d}-{base.day:02d}"


def format_date_time(value: datetime) -> str:
    """`2026-01-01T10:30:00`, with `Z`, `+01:00` or `@Zone` when it has a zone."""
    return f"{format_date(value.date())}T{_clock_text(value)}" + _zone_suffix(value.tzinfo, value.utcoffset())


def _clock_text(value: time | datetime) -> str:
    """`HH:MM:SS`, with milli-, micro- or nanoseconds when there are any (`.987`, not `.987000`)."""
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    nanos = value.nanos if isinstance(value, FineTime | WideDateTime) else 0
    if nanos:
        text += f".{value.microsecond * 1000 + nanos:09d}"
    elif value.microsecond:
        text += f".{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 else f".{value.microsecond:06d}"
    return text


def _zone_suffix(zone: tzinfo | None, offset: timedelta | None) -> str:
    if isinstance(zone, ZoneInfo):  # a time of day has no offset in a zone (it depends on the date), but keeps the zone
        return f"@{zone.key}"
    if zone is None or offset is None:
        return ""
    if offset == timedelta(0):
        return "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes, seconds = divmod(abs(int(offset.total_seconds())), 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}" + (f":{seconds:02d}" if seconds else "")
