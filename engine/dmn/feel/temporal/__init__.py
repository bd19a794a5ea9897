"""FEEL's temporal values: parsing and printing (`text`), arithmetic (`arithmetic`), and the values
past Python's range, years outside 1-9999 and nanoseconds (`wide`)."""

from engine.dmn.feel.temporal.arithmetic import add_months, difference, months_between, shift
from engine.dmn.feel.temporal.fine import (
    FineDuration,
    FineTime,
    duration_nanos,
    join_time,
    nanos_to_delta,
    time_parts,
)
from engine.dmn.feel.temporal.text import (
    MAX_DURATION_DAYS,
    YearsMonths,
    format_date,
    format_date_time,
    format_duration,
    format_time,
    format_years_months,
    parse_date,
    parse_date_time,
    parse_duration,
    parse_temporal,
    parse_time,
    parse_zone,
)
from engine.dmn.feel.temporal.wide import (
    WIDE_TYPES,
    WideDate,
    WideDateTime,
    combine,
    date_from_ordinal,
    is_date,
    make_date,
)

__all__ = [
    "MAX_DURATION_DAYS",
    "WIDE_TYPES",
    "FineDuration",
    "FineTime",
    "WideDate",
    "WideDateTime",
    "YearsMonths",
    "add_months",
    "combine",
    "date_from_ordinal",
    "difference",
    "duration_nanos",
    "format_date",
    "format_date_time",
    "format_duration",
    "format_time",
    "format_years_months",
    "is_date",
    "join_time",
    "make_date",
    "months_between",
    "nanos_to_delta",
    "parse_date",
    "parse_date_time",
    "parse_duration",
    "parse_temporal",
    "parse_time",
    "parse_zone",
    "shift",
    "time_parts",
]
