"""Dates and date-times past Python's range: years outside 1-9999, and date-times with nanoseconds.

FEEL allows years from -999,999,999 to 999,999,999 and nine fraction digits of a second;
Python's `date`, `datetime` and `time` hold years 1 to 9999 and microseconds. Values inside
that range stay Python's own (so the common case costs nothing); the others are subclasses
carrying what Python cannot:

- `WideDate`: the same day in the years 2000-2399 plus a number of 400-year cycles. The
  Gregorian calendar repeats exactly every 400 years (146,097 days, a whole number of weeks),
  so month lengths, leap days, weekdays, day of year and week of year are those of the base.
- `WideDateTime`: a date and time shifted the same way, and/or its nanoseconds below the
  microsecond. A zone's offset before year 1 is the zone's first (its local mean time, as Java
  gives it); after year 9999 it follows the zone's current rules (those of the base year).

`join_date`, `join_date_time` and `join_time` build a value from a Python base and what it
lacks, giving Python's own type whenever it can hold the value; `date_parts` and
`date_time_parts` take one apart again. Equality, order, hashing and `+`/`-` with a
`timedelta` work across plain and wide values of a kind.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, TypeAlias

from engine.dmn.feel.errors import FeelLimit
from engine.dmn.feel.temporal.fine import FineDuration, FineTime, join_time, nanos_to_delta, time_parts

CYCLE_YEARS = 400
CYCLE_DAYS = 146_097  # days in 400 Gregorian years
BASE_YEAR = 2000  # wide values keep a base in the years 2000-2399
MIN_YEAR, MAX_YEAR = -999_999_999, 999_999_999
_BASE_ORDINAL = date(BASE_YEAR, 1, 1).toordinal()
_US = timedelta(microseconds=1)
_Date: TypeAlias = date  # inside WideDateTime, `date` and `time` are its methods
_Time: TypeAlias = time


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FeelLimit("date out of range")


class WideDate(date):
    """A date whose year is outside 1-9999 (see the module's text)."""

    base: date
    cycles: int

    def __new__(cls, base: date, cycles: int) -> WideDate:
        self = super().__new__(cls, base.year, base.month, base.day)
        self.base, self.cycles = base, cycles
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (WideDate, (self.base, self.cycles))

    @property
    def year(self) -> int:
        return self.base.year + CYCLE_YEARS * self.cycles

    def toordinal(self) -> int:
        return self.base.toordinal() + CYCLE_DAYS * self.cycles

    def replace(self, year: int | None = None, month: int | None = None, day: int | None = None) -> date:  # type: ignore[override]
        return make_date(self.year if year is None else year, month or self.month, day or self.day)

    def isoformat(self) -> str:
        return f"{format_year(self.year)}-{self.month:02d}-{self.day:02d}"

    __str__ = isoformat

    def __repr__(self) -> str:
        return f"WideDate({self.isoformat()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, datetime) or not isinstance(other, date):
            return NotImplemented
        return self.toordinal() == other.toordinal()

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(("date", self.toordinal()))

    def __lt__(self, other: date) -> bool:
        return _order(self, other) < 0

    def __le__(self, other: date) -> bool:
        return _order(self, other) <= 0

    def __gt__(self, other: date) -> bool:
        return _order(self, other) > 0

    def __ge__(self, other: date) -> bool:
        return _order(self, other) >= 0

    def __add__(self, other: timedelta) -> date:  # type: ignore[override]
        if not isinstance(other, timedelta):
            return NotImplemented
        return date_from_ordinal(self.toordinal() + other.days)

    __radd__ = __add__  # type: ignore[assignment]

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, timedelta):
            return date_from_ordinal(self.toordinal() - other.days)
        if isinstance(other, date) and not isinstance(other, datetime):
            return timedelta(days=self.toordinal() - other.toordinal())
        return NotImplemented

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, date) and not isinstance(other, datetime):
            return timedelta(days=other.toordinal() - self.toordinal())
        return NotImplemented


def _order(left: date, right: Any) -> int:
    if isinstance(right, datetime) or not isinstance(right, date):
        raise TypeError(f"cannot compare a date with {type(right).__name__}")
    return left.toordinal() - right.toordinal()


class WideDateTime(datetime):
    """A date and time whose year is outside 1-9999 or that has nanoseconds (see the module's text)."""

    base: datetime
    cycles: int
    nanos: int

    def __new__(cls, base: datetime, cycles: int, nanos: int) -> WideDateTime:
        b = base
        self = super().__new__(
            cls, b.year, b.month, b.day, b.hour, b.minute, b.second, b.microsecond, b.tzinfo, fold=b.fold
        )
        self.base, self.cycles, self.nanos = base, cycles, nanos
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (WideDateTime, (self.base, self.cycles, self.nanos))

    @property
    def year(self) -> int:
        return self.base.year + CYCLE_YEARS * self.cycles

    def toordinal(self) -> int:
        return self.base.toordinal() + CYCLE_DAYS * self.cycles

    def date(self) -> _Date:
        return join_date(self.base.date(), self.cycles)

    def utcoffset(self) -> timedelta | None:
        return self.base.utcoffset() if self.cycles > 0 else super().utcoffset()

    def dst(self) -> timedelta | None:
        return self.base.dst() if self.cycles > 0 else super().dst()

    def tzname(self) -> str | None:
        return self.base.tzname() if self.cycles > 0 else super().tzname()

    def replace(self, year: int | None = None, **fields: Any) -> datetime:  # type: ignore[override]
        """Python's `replace`, for any FEEL year (the nanoseconds stay)."""
        year = self.year if year is None else year
        base_year = BASE_YEAR + (year - BASE_YEAR) % CYCLE_YEARS
        moved = self.base.replace(year=base_year, **fields)
        return join_date_time(moved, (year - base_year) // CYCLE_YEARS, self.nanos)

    def time(self) -> _Time:
        return join_time(self.base.time(), self.nanos)

    def timetz(self) -> _Time:
        return join_time(self.base.timetz(), self.nanos)

    def __repr__(self) -> str:
        return f"WideDateTime({self.base!r}, cycles={self.cycles}, nanos={self.nanos})"

    def __str__(self) -> str:
        return f"{self.date().isoformat()} {self.time()} {self.tzinfo or ''}".strip()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, datetime):
            return NotImplemented
        if (self.utcoffset() is None) != (other.utcoffset() is None):
            return False
        return instant(self) == instant(other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(("date and time", instant(self)))

    def __lt__(self, other: _Date) -> bool:
        return _instant_order(self, other) < 0

    def __le__(self, other: _Date) -> bool:
        return _instant_order(self, other) <= 0

    def __gt__(self, other: _Date) -> bool:
        return _instant_order(self, other) > 0

    def __ge__(self, other: _Date) -> bool:
        return _instant_order(self, other) >= 0

    def __add__(self, other: timedelta) -> datetime:  # type: ignore[override]
        if not isinstance(other, timedelta):
            return NotImplemented
        return add_to_date_time(self, other)

    __radd__ = __add__  # type: ignore[assignment]

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, timedelta):
            return add_to_date_time(self, -other)
        if isinstance(other, datetime):
            if (self.utcoffset() is None) != (other.utcoffset() is None):
                raise TypeError("cannot subtract offset-naive and offset-aware datetimes")
            return nanos_to_delta(instant(self) - instant(other))
        return NotImplemented

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, datetime):
            if (self.utcoffset() is None) != (other.utcoffset() is None):
                raise TypeError("cannot subtract offset-naive and offset-aware datetimes")
            return nanos_to_delta(instant(other) - instant(self))
        return NotImplemented


def _instant_order(left: datetime, right: Any) -> int:
    if not isinstance(right, datetime):
        raise TypeError(f"cannot compare a datetime with {type(right).__name__}")
    if (left.utcoffset() is None) != (right.utcoffset() is None):
        raise TypeError("can't compare offset-naive and offset-aware datetimes")
    return instant(left) - instant(right)


def instant(value: datetime) -> int:
    """Nanoseconds since 0001-01-01T00:00 (UTC for a value with a zone, its wall clock without one)."""
    cycles, base, nanos = date_time_parts(value)
    offset = value.utcoffset()
    seconds = (base.toordinal() + CYCLE_DAYS * cycles) * 86400 + base.hour * 3600 + base.minute * 60 + base.second
    micros = seconds * 1_000_000 + base.microsecond - (offset // _US if offset else 0)
    return micros * 1000 + nanos


WIDE_TYPES = (WideDate, WideDateTime, FineTime, FineDuration)


# ---------------------------------------------------------------- building and taking apart


def format_year(year: int) -> str:
    """ISO 8601 / XML Schema: at least four digits, a minus before years up to 0 (`-0044`, `12026`)."""
    return f"-{-year:04d}" if year < 0 else f"{year:04d}"


def join_date(base: date, cycles: int = 0) -> date:
    """The date `cycles` 400-year cycles after `base` (a plain date); a plain date when Python can hold it."""
    if not cycles:
        return base
    year = base.year + CYCLE_YEARS * cycles
    if 1 <= year <= 9999:
        return base.replace(year=year)
    _check_year(year)
    shift = (base.year - BASE_YEAR) // CYCLE_YEARS
    if shift:
        base = base.replace(year=base.year - CYCLE_YEARS * shift)
    return WideDate(base, cycles + shift)


def make_date(year: int, month: int, day: int) -> date:
    """A date of any FEEL year; raises ValueError for a year, month or day that does not exist."""
    if 1 <= year <= 9999:
        return date(year, month, day)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} is out of range")
    cycles = (year - BASE_YEAR) // CYCLE_YEARS
    return WideDate(date(year - CYCLE_YEARS * cycles, month, day), cycles)


def date_parts(value: date) -> tuple[int, date]:
    """(cycles, plain base) of a date."""
    if isinstance(value, WideDate):
        return value.cycles, value.base
    return 0, value


def date_from_ordinal(ordinal: int) -> date:
    """The date of a (possibly negative or huge) proleptic Gregorian ordinal, 1 being 0001-01-01."""
    cycles, rest = divmod(ordinal - _BASE_ORDINAL, CYCLE_DAYS)
    return join_date(date.fromordinal(_BASE_ORDINAL + rest), cycles)


def join_date_time(base: datetime, cycles: int = 0, nanos: int = 0) -> datetime:
    """A date and time from a plain base, 400-year cycles and nanoseconds below the microsecond."""
    if not cycles and not nanos:
        return base
    year = base.year + CYCLE_YEARS * cycles
    if 1 <= year <= 9999:
        plain = base.replace(year=year) if cycles else base
        return WideDateTime(plain, 0, nanos) if nanos else plain
    _check_year(year)
    shift = (base.year - BASE_YEAR) // CYCLE_YEARS
    if shift:
        base = base.replace(year=base.year - CYCLE_YEARS * shift)
    return WideDateTime(base, cycles + shift, nanos)


def date_time_parts(value: datetime) -> tuple[int, datetime, int]:
    """(cycles, plain base, nanoseconds) of a date and time."""
    if isinstance(value, WideDateTime):
        return value.cycles, value.base, value.nanos
    return 0, value, 0


def _normal_parts(value: datetime) -> tuple[int, datetime, int]:
    """Like `date_time_parts`, with the base moved into the years 2000-2399 (room to move it by 400 years)."""
    cycles, base, nanos = date_time_parts(value)
    shift = (base.year - BASE_YEAR) // CYCLE_YEARS
    if shift:
        base = base.replace(year=base.year - CYCLE_YEARS * shift)
    return cycles + shift, base, nanos


def add_to_date_time(value: datetime, delta: timedelta) -> datetime:
    """`value + delta` (wall-clock arithmetic, as Python's) for any FEEL year; raises FeelLimit past them."""
    cycles, base, nanos = _normal_parts(value)
    if isinstance(delta, FineDuration):
        carry, nanos = divmod(nanos + delta.nanos, 1000)
        delta = delta.base + timedelta(microseconds=carry)
    more, days = divmod(delta.days, CYCLE_DAYS)
    return join_date_time(base + timedelta(days, delta.seconds, delta.microseconds), cycles + more, nanos)


def combine(day: date, moment: time) -> datetime:
    """A date and a time of day as a date and time (the time's zone, nanoseconds and the date's year kept)."""
    cycles, base_day = date_parts(day)
    base_time, nanos = time_parts(moment)
    return join_date_time(datetime.combine(base_day, base_time, tzinfo=base_time.tzinfo), cycles, nanos)


def is_date(value: Any) -> bool:
    """A FEEL date (not a date and time)."""
    return isinstance(value, date) and not isinstance(value, datetime)
