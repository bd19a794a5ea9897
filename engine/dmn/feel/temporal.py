"""FEEL dates, times, date-times and the two duration types: parsing, printing, arithmetic.

Values are Python's `date`, `time`, `datetime` and `timedelta` (days and time duration),
plus `YearsMonths` (years and months duration). Times and date-times may carry a UTC offset
or an IANA zone (`@Europe/Berlin`); without one they are local (naive).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.dmn.feel.errors import FeelError

_DATE = re.compile(r"(-?\d{4,9})-(\d\d)-(\d\d)")
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d|@[A-Za-z_+\-/0-9]{1,60})?")
_DAY_TIME = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
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
        return date(year, month, day)
    except (ValueError, OverflowError) as err:
        raise FeelError(f"no such date: {year:04d}-{month:02d}-{day:02d}") from err


def parse_time(text: str) -> time:
    """`HH:MM:SS[.fff][Z|+hh:mm|@Zone]`; raises FeelError."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise FeelError(f"{text!r} is not a time (HH:MM:SS)")
    return _make_time(match)


def _make_time(match: re.Match[str]) -> time:
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    micro = int((match[4] or "0").ljust(6, "0")[:6])
    if hour > 23 or minute > 59 or second > 59:
        raise FeelError(f"no such time: {match[0]}")
    return time(hour, minute, second, micro, tzinfo=parse_zone(match[5]))


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
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise FeelError(f"time offset {text!r} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_date_time(text: str) -> datetime:
    """`YYYY-MM-DDTHH:MM:SS[...]`, or a date alone (midnight); raises FeelError."""
    text = text.strip()
    if "T" not in text:
        day = parse_date(text)
        return datetime(day.year, day.month, day.day)
    day_text, _, time_text = text.partition("T")
    day = parse_date(day_text)
    moment = parse_time(time_text)
    return datetime.combine(day, moment, tzinfo=moment.tzinfo)


def parse_duration(text: str) -> timedelta | YearsMonths:
    """ISO 8601 `P1DT2H` (days and time) or `P1Y2M` (years and months); raises FeelError."""
    text = text.strip()
    match = _DAY_TIME.fullmatch(text)
    if match and any(match.group(i) for i in (2, 3, 4, 5)) and not text.endswith("T"):
        days, hours, minutes = (int(match.group(i) or 0) for i in (2, 3, 4))
        seconds = Decimal(match.group(5) or 0)
        if days > MAX_DURATION_DAYS or hours > 24 * MAX_DURATION_DAYS:
            raise FeelError(f"duration {text!r} is too long")
        value = timedelta(days=days, hours=hours, minutes=minutes, seconds=float(seconds))
        return -value if match.group(1) else value
    match = _YEAR_MONTH.fullmatch(text)
    if match and (match.group(2) or match.group(3)):
        months = int(match.group(2) or 0) * 12 + int(match.group(3) or 0)
        if months > 12 * 999_999:
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
    if seconds or value.microseconds:
        fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
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
    """`10:30:00`, with `Z`, `+01:00` or `@Zone` when the time has a zone."""
    text = value.replace(tzinfo=None).isoformat()
    return text + _zone_suffix(value.tzinfo, value.utcoffset())


def format_date_time(value: datetime) -> str:
    """`2026-01-01T10:30:00`, with `Z`, `+01:00` or `@Zone` when it has a zone."""
    text = value.replace(tzinfo=None).isoformat()
    return text + _zone_suffix(value.tzinfo, value.utcoffset())


def _zone_suffix(zone: tzinfo | None, offset: timedelta | None) -> str:
    if zone is None or offset is None:
        return ""
    if isinstance(zone, ZoneInfo):
        return f"@{zone.key}"
    if offset == timedelta(0):
        return "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------- arithmetic


def add_months(value: date, months: int) -> date:
    """Shift by whole months; the day is clamped to the month's last day (Jan 31 + 1 month = Feb 28)."""
    total = value.year * 12 + (value.month - 1) + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise FeelError("date out of range")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def shift(value: date | datetime | time, delta: timedelta | YearsMonths) -> date | datetime | time:
    """A date, date and time or time moved by a duration; raises FeelError out of range."""
    try:
        if isinstance(delta, YearsMonths):
            if isinstance(value, time):
                raise FeelError("a time cannot be moved by years and months")
            return add_months(value, delta.months)
        if isinstance(value, datetime):
            return value + delta
        if isinstance(value, date):
            return (datetime(value.year, value.month, value.day) + delta).date()
        moved = datetime.combine(date(2000, 1, 1), value.replace(tzinfo=None)) + delta
        return moved.time().replace(tzinfo=value.tzinfo)
    except OverflowError as err:
        raise FeelError("date out of range") from err


def months_between(start: date, end: date) -> YearsMonths:
    """Whole months from `start` to `end` (as `years and months duration(from, to)`)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    start_rest = (start.day, _clock(start))
    end_rest = (end.day, _clock(end))
    if months > 0 and end_rest < start_rest:
        months -= 1
    elif months < 0 and end_rest > start_rest:
        months += 1
    return YearsMonths(months)


def _clock(value: date) -> tuple[int, int, int, int]:
    if isinstance(value, datetime):
        return (value.hour, value.minute, value.second, value.microsecond)
    return (0, 0, 0, 0)


def difference(left: date | datetime | time, right: date | datetime | time) -> timedelta:
    """`left - right` as a days and time duration; raises FeelError for mixed kinds or zones."""
    if isinstance(left, time) and isinstance(right, time):
        left = datetime.combine(date(2000, 1, 1), left)
        right = datetime.combine(date(2000, 1, 1), right)
    elif not isinstance(left, datetime) and not isinstance(right, datetime):
        return timedelta(days=left.toordinal() - right.toordinal())  # type: ignore[union-attr]
    left, right = _as_datetime(left), _as_datetime(right)  # type: ignore[arg-type]
    if (left.tzinfo is None) != (right.tzinfo is None):
        raise FeelError("cannot subtract a date and time with a time zone from one without")
    return left - right


def _as_datetime(value: date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)
