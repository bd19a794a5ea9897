"""FEEL times and durations with nanoseconds: Python's `time` and `timedelta` hold microseconds.

`FineTime` is a time of day and `FineDuration` a days and time duration with the nanoseconds below
the microsecond (1 to 999) beside a Python base; values without any stay Python's own. `join_time` and
`nanos_to_delta` build them, `time_parts` and `duration_nanos` take them apart. Equality, order,
hashing and arithmetic work across plain and fine values of a kind (see `wide.py` for date-times).
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from engine.dmn.feel.errors import FeelLimit


class FineTime(time):
    """A time of day with nanoseconds below the microsecond."""

    base: time
    nanos: int

    def __new__(cls, base: time, nanos: int) -> FineTime:
        b = base
        self = super().__new__(cls, b.hour, b.minute, b.second, b.microsecond, b.tzinfo, fold=b.fold)
        self.base, self.nanos = base, nanos
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (FineTime, (self.base, self.nanos))

    def replace(self, **fields: Any) -> time:  # type: ignore[override]
        """Python's `replace` (the nanoseconds stay)."""
        return join_time(self.base.replace(**fields), self.nanos)

    def __repr__(self) -> str:
        return f"FineTime({self.base!r}, nanos={self.nanos})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, time):
            return NotImplemented
        return bool(self.base == _plain_time(other)) and self.nanos == getattr(other, "nanos", 0)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((self.base, self.nanos))

    def _pair(self, other: time) -> tuple[tuple[time, int], tuple[time, int]]:
        if not isinstance(other, time):
            raise TypeError(f"cannot compare a time with {type(other).__name__}")
        return (self.base, self.nanos), (_plain_time(other), getattr(other, "nanos", 0))

    def __lt__(self, other: time) -> bool:
        left, right = self._pair(other)
        return left < right

    def __le__(self, other: time) -> bool:
        left, right = self._pair(other)
        return left <= right

    def __gt__(self, other: time) -> bool:
        left, right = self._pair(other)
        return left > right

    def __ge__(self, other: time) -> bool:
        left, right = self._pair(other)
        return left >= right


def _plain_time(value: time) -> time:
    return value.base if isinstance(value, FineTime) else value


def nanos_to_delta(nanos: int) -> timedelta:
    """A number of nanoseconds as a days and time duration (a timedelta when whole microseconds); raises
    FeelLimit if too long."""
    micros, rest = divmod(nanos, 1000)
    try:
        delta = timedelta(microseconds=micros)
    except OverflowError as err:
        raise FeelLimit("duration is too long") from err
    return FineDuration(delta, rest) if rest else delta


def duration_nanos(value: timedelta) -> int:
    """A days and time duration in nanoseconds."""
    whole = ((value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds) * 1000
    return whole + value.nanos if isinstance(value, FineDuration) else whole


class FineDuration(timedelta):
    """A days and time duration with nanoseconds: `base` (a timedelta, rounded down to the microsecond) plus
    `nanos` (1 to 999)."""

    base: timedelta
    nanos: int

    def __new__(cls, base: timedelta, nanos: int) -> FineDuration:
        self = super().__new__(cls, base.days, base.seconds, base.microseconds)
        self.base, self.nanos = base, nanos
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (FineDuration, (self.base, self.nanos))

    def __repr__(self) -> str:
        return f"FineDuration({self.base!r}, nanos={self.nanos})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, timedelta):
            return NotImplemented
        return duration_nanos(self) == duration_nanos(other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(("duration", duration_nanos(self)))

    def __lt__(self, other: timedelta) -> bool:
        return duration_nanos(self) < duration_nanos(other)

    def __le__(self, other: timedelta) -> bool:
        return duration_nanos(self) <= duration_nanos(other)

    def __gt__(self, other: timedelta) -> bool:
        return duration_nanos(self) > duration_nanos(other)

    def __ge__(self, other: timedelta) -> bool:
        return duration_nanos(self) >= duration_nanos(other)

    def __bool__(self) -> bool:
        return True

    def __neg__(self) -> timedelta:
        return nanos_to_delta(-duration_nanos(self))

    def __pos__(self) -> timedelta:
        return self

    def __abs__(self) -> timedelta:
        return nanos_to_delta(abs(duration_nanos(self)))

    def __add__(self, other: Any) -> Any:
        if isinstance(other, timedelta):
            return nanos_to_delta(duration_nanos(self) + duration_nanos(other))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, timedelta):
            return nanos_to_delta(duration_nanos(self) - duration_nanos(other))
        return NotImplemented

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, timedelta):
            return nanos_to_delta(duration_nanos(other) - duration_nanos(self))
        return NotImplemented


def join_time(base: time, nanos: int = 0) -> time:
    """A time with nanoseconds below the microsecond (a plain time when there are none)."""
    return FineTime(base, nanos) if nanos else base


def time_parts(value: time) -> tuple[time, int]:
    """(plain base, nanoseconds) of a time."""
    if isinstance(value, FineTime):
        return value.base, value.nanos
    return value, 0
