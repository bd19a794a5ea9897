"""The one range of every integer and date parameter a caller sends (API, pages, forms).

A number or a date straight from a query string goes into SQL (`OFFSET`, `seq < ?`, a timestamp
bound) or into date arithmetic; one out of range there is an OverflowError or a database error,
a 500. Every parameter is checked here first instead, and refused with InvalidInput (422) naming
it. The API's marshmallow fields (`api.schemas.Whole`, `api.schemas.Moment`) take the same bounds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from .errors import InvalidInput

INT_MAX = 2**31 - 1
"""The largest integer parameter by default (page, version, limit, days): PostgreSQL's `integer`."""
BIGINT_MAX = 2**63 - 1
"""For parameters compared with a `BigInteger` column (the audit trail's `seq`): SQLite's and PostgreSQL's."""
EARLIEST = date(1900, 1, 1)
LATEST = date(9998, 12, 31)
"""Dates and times from 1900 to 9998: a year of margin below Python's `datetime.max`, so a day or a
time zone added to a bound never overflows."""


def whole(raw: object, low: int = 1, high: int = INT_MAX) -> int:
    """An integer in [low, high] from a string (or an int); ValueError with the message to show."""
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.lstrip("-").isdigit() or len(text) > 20:
        raise ValueError(f"must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return value


def in_range(value: date) -> bool:
    """True for a date (or the date of a time, in UTC) within [EARLIEST, LATEST]."""
    if isinstance(value, datetime):
        try:
            value = (value.astimezone(UTC) if value.tzinfo else value).date()
        except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
            return False
    return EARLIEST <= value <= LATEST


def day(raw: str) -> date:
    """A date (its first 10 characters) within range; ValueError with the message to show."""
    try:
        value = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD)") from None
    if not in_range(value):
        raise ValueError(f"must be a date from {EARLIEST} to {LATEST}")
    return value


def moment(raw: str, end_of_day: bool = False) -> datetime:
    """A date (its start, or its end) or a date and time, in UTC unless it names a zone, within range."""
    text = raw.strip()
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time.max if end_of_day else time.min)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not in_range(value):
        raise ValueError(f"must be from {EARLIEST} to {LATEST}")
    return value


def parameter(name: str, raw: str | None, low: int = 1, high: int = INT_MAX, default: int | None = None) -> int | None:
    """The integer parameter `name` (`default` when absent or empty); InvalidInput (422) naming it."""
    if raw is None or not str(raw).strip():
        return default
    try:
        return whole(raw, low, high)
    except ValueError as err:
        raise InvalidInput(f"{name} {err}", {"fields": {name: str(err)}}) from None


def page_number(raw: str | None) -> int:
    """The `page` parameter of a listing page: 1 when absent, else 1 to INT_MAX; InvalidInput naming it."""
    return parameter("page", raw, default=1) or 1


__all__ = [
    "BIGINT_MAX",
    "EARLIEST",
    "INT_MAX",
    "LATEST",
    "day",
    "in_range",
    "moment",
    "page_number",
    "parameter",
    "whole",
]
