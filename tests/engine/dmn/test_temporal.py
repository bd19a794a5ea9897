"""FEEL temporal values past Python's range: years outside 1-9999 and nanoseconds, in every operation."""

from __future__ import annotations

import json
import pickle
from datetime import date, datetime, timedelta

import pytest

from engine.dmn.feel import EvalState, FeelError, compile_expression, to_python
from engine.dmn.feel.temporal import (
    FineDuration,
    FineTime,
    WideDate,
    WideDateTime,
    format_date_time,
    format_time,
    make_date,
    parse_date,
    parse_date_time,
    parse_duration,
    parse_time,
)

from .samples import dmn, input_data, literal, run


def feel(text: str) -> object:
    return to_python(compile_expression(text).evaluate({}))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # reading and printing: four digits at least, a minus before years up to 0
        ('string(date("-0044-03-15"))', "-0044-03-15"),
        ('string(date("999999999-12-31"))', "999999999-12-31"),
        ('string(date("-999999999-12-31"))', "-999999999-12-31"),
        ("string(date(-2017, 1, 1))", "-2017-01-01"),
        ('string(@"0000-02-29")', "0000-02-29"),  # year 0 (1 BC) is a leap year
        ('string(date and time("99999-12-31T11:22:33"))', "99999-12-31T11:22:33"),
        ('string(date and time("-2017-12-31T11:22:33.456+01:35"))', "-2017-12-31T11:22:33.456+01:35"),
        (
            'string(date and time("2011-12-31T10:15:30.123456789@Europe/Paris"))',
            "2011-12-31T10:15:30.123456789@Europe/Paris",
        ),
        (
            'string(date and time("-999999999-12-31T23:59:59.999999999+02:00"))',
            "-999999999-12-31T23:59:59.999999999+02:00",
        ),
        ('string(time("23:59:01.000000001"))', "23:59:01.000000001"),
        ("string(time(10, 0, 0.123456789))", "10:00:00.123456789"),
        ('string(date and time(date("-2026-03-01"), time("10:00:00.000000001Z")))', "-2026-03-01T10:00:00.000000001Z"),
        ('string(date(date and time("-2026-03-01T10:00:00.5Z")))', "-2026-03-01"),
        ('string(time(date and time("-2026-03-01T10:00:00.123456789Z")))', "10:00:00.123456789Z"),
        # properties and calendar functions: the Gregorian calendar repeats every 400 years
        ('date("-0044-03-15").year', -44),
        ('date("-0044-03-15").weekday', 4),
        ('day of week(date("-0044-03-15"))', "Thursday"),
        ('day of year(date("12026-03-01"))', 60),
        ('week of year(date("12026-03-01"))', 9),
        ('month of year(date("-0001-12-31"))', "December"),
        ('time("10:00:00.123456789").second', 0),
        # arithmetic across year 9999 and year 1
        ('string(date("9999-12-31") + duration("P1D"))', "10000-01-01"),
        ('string(date("0001-01-01") - duration("P1D"))', "0000-12-31"),
        ('string(date("-0001-12-31") + duration("P1D"))', "0000-01-01"),
        ('string(@"-2021-01-31T10:10:10+11:00" + @"P1M")', "-2021-02-28T10:10:10+11:00"),
        ('string(@"-2021-01-01T10:10:10@Australia/Melbourne" - @"P1Y")', "-2022-01-01T10:10:10@Australia/Melbourne"),
        ('string(@"-2021-01-01T10:10:10+11:00" + @"PT25H")', "-2021-01-02T11:10:10+11:00"),
        ('string(date("-2026-03-01") + duration("P4052Y"))', "2026-03-01"),
        ('string(date("12026-03-01") - date("2026-03-01"))', "P3652425D"),
        ('string(@"12026-03-01T10:00:00Z" - @"2026-03-01T09:00:00-01:00")', "P3652425D"),
        ('string(time("10:00:00.123456789") + duration("PT1H"))', "11:00:00.123456789"),
        (
            'string(years and months duration(date and time("-2016-01-30T09:05:00"), date and time("-2017-02-28T02:02:02")))',
            "-P11M",
        ),
        # equality and order, also between plain and wide values
        ('date("10000-01-01") - duration("P1D") = date("9999-12-31")', True),
        ('date("12026-03-01") > date("2026-03-01")', True),
        ('date("-0044-03-15") < date("0001-01-01")', True),
        ('@"12026-03-01T10:00:00Z" = @"12026-03-01T11:00:00+01:00"', True),
        ('@"2026-03-01T10:00:00.123456789Z" > @"2026-03-01T10:00:00.123456788Z"', True),
        ('@"2026-03-01T10:00:00.123456789Z" = @"2026-03-01T10:00:00.123456788Z"', False),
        ('time("10:00:00.000000001") > time("10:00:00")', True),
        ('date("12026-03-01") in [date("2026-01-01")..date("20000-01-01")]', True),
        (
            'string(sort([date("2026-01-01"), date("-0005-01-01"), date("12026-01-01")], function(a, b) a > b))',
            "[12026-01-01, 2026-01-01, -0005-01-01]",
        ),
        ('count(distinct values([date("12026-01-01"), date("12026-01-01"), date("2026-01-01")]))', 2),
        ('string(max([@"12026-03-01T10:00:00", @"2026-03-01T10:00:00"]))', "12026-03-01T10:00:00"),
        (
            'for d in date("9999-12-30")..date("10000-01-02") return string(d)',
            ["9999-12-30", "9999-12-31", "10000-01-01", "10000-01-02"],
        ),
        ('@"12026-07-01T12:00:00@Europe/Paris".time offset = @"PT2H"', True),  # the zone's current rules
        ('@"12026-01-01T12:00:00@Europe/Paris".time offset = @"PT1H"', True),
        ('@"-2021-01-01T10:10:10@Australia/Melbourne".time offset', "PT9H39M52S"),  # its local mean time
        # durations with nanoseconds
        ('string(duration("PT0.123456789S"))', "PT0.123456789S"),
        ('string(-duration("PT0.123456789S"))', "-PT0.123456789S"),
        ('string(abs(duration("-PT0.000000001S")))', "PT0.000000001S"),
        ('string(duration("PT1.5S") + duration("PT0.000000001S"))', "PT1.500000001S"),
        ('duration("PT0.000000001S") > duration("PT0S")', True),
        ('duration("PT0.000000001S") = duration("PT0.000000002S")', False),
        ('string(time("10:00:00") + duration("PT0.000000001S"))', "10:00:00.000000001"),
        (
            'string(@"2026-01-01T10:00:00Z" + duration("PT0.999999999S") + duration("PT0.000000001S"))',
            "2026-01-01T10:00:01Z",
        ),
        ('string(@"2026-01-01T10:00:00.000000003Z" - @"2026-01-01T10:00:00Z")', "PT0.000000003S"),
        ('duration("PT1S") / duration("PT0.000000001S")', 1_000_000_000),
        ('string(duration("PT0.000000003S") * 3)', "PT0.000000009S"),
        ('string(duration("P1D") * 0.1)', "PT2H24M"),
        ('count(distinct values([duration("PT0.000000001S"), duration("PT0.000000001S")]))', 1),
        ('string(duration("P999999999D") + duration("PT0.000000001S"))', "P999999999DT0.000000001S"),
        ('date("12026-03-01") instance of date', True),
        ('@"12026-03-01T10:00:00Z" instance of date and time', True),
        ('time("10:00:00.5000001") instance of time', True),
    ],
)
def test_wide_years_and_nanoseconds(text: str, value: object) -> None:
    assert feel(text) == value


def test_past_the_years_feel_allows() -> None:
    state = EvalState()
    assert compile_expression("date(1000000000, 1, 1)").evaluate({}, state) is None
    assert "no such date" in state.warnings[0]
    assert compile_expression('date("-1000000000-01-01")').evaluate({}) is None
    with pytest.raises(FeelError, match="date out of range"):  # arithmetic past them stops the evaluation
        compile_expression('date("999999999-12-31") + duration("P1D")').evaluate({})
    with pytest.raises(FeelError, match="date out of range"):
        compile_expression('@"-999999999-01-01T00:00:00" - duration("P1Y")').evaluate({})


def test_python_holds_what_it_can() -> None:
    """Values inside years 1-9999 without nanoseconds stay Python's own types, whatever produced them."""
    assert type(parse_date("2026-01-01")) is date
    assert type(compile_expression('date("10000-01-01") - duration("P1D")').evaluate({})) is date
    assert type(parse_date_time("2026-01-01T10:00:00.123456Z")) is datetime
    assert type(compile_expression('@"-0001-01-01T00:00:00" + @"P2Y"').evaluate({})) is datetime
    assert type(make_date(-1, 1, 1)) is WideDate
    assert type(parse_date_time("2026-01-01T10:00:00.1234567")) is WideDateTime
    assert type(parse_time("10:00:00.1234567")) is FineTime
    assert type(parse_duration("PT0.5S")) is timedelta and type(parse_duration("PT0.0000005S")) is FineDuration


def test_wide_values_hash_pickle_and_mix_with_python_values() -> None:
    wide = parse_date("-0044-03-15")
    assert wide == make_date(-44, 3, 15) and hash(wide) == hash(make_date(-44, 3, 15))
    assert wide != date(1956, 3, 15) and date(1956, 3, 15) != wide  # the same day 2000 years later
    assert wide < date(1, 1, 1) and date(1, 1, 1) > wide
    # 45 years of 365 days and the leap days of -40, -36, ..., 0, less 0001-01-01 to 0001-03-15
    assert date(1, 1, 1) - wide == timedelta(days=45 * 365 + 11 - 73)
    assert (wide + timedelta(days=1)).isoformat() == "-0044-03-16"
    moment = parse_date_time("2026-01-01T10:00:00.000000500Z")
    assert moment > parse_date_time("2026-01-01T10:00:00Z") and parse_date_time("2026-01-01T10:00:00Z") < moment
    assert moment != parse_date_time("2026-01-01T10:00:00Z")
    assert wide.replace(day=1).isoformat() == "-0044-03-01" and type(wide.replace(year=2000)) is date
    naive = parse_date_time("-0044-03-15T10:00:00.000000001Z").replace(tzinfo=None)
    assert format_date_time(naive) == "-0044-03-15T10:00:00.000000001"
    assert format_time(parse_time("10:00:00.000000001Z").replace(tzinfo=None)) == "10:00:00.000000001"
    for value in (
        wide,
        moment,
        parse_duration("-PT0.000000001S"),
        parse_time("10:00:00.000000001@Europe/Paris"),
        parse_date_time("-5000-01-01T00:00:00"),
    ):
        assert pickle.loads(pickle.dumps(value)) == value


def test_decision_outputs_and_typed_inputs_are_iso_text() -> None:
    """The decision API, the audit event and process variables get ISO text (JSON-ready), and typed inputs
    read it back."""
    text = dmn(
        input_data("when", type_ref="date"),
        input_data("stamp", type_ref="dateTime"),
        literal(
            "d",
            '{before: when - duration("P1D"), year: when.year, later: stamp + duration("PT1S")}',
            requires_inputs=["when", "stamp"],
        ),
    )
    evaluation = run(text, when="-0044-03-15", stamp="2026-01-01T23:59:59.999999999+02:45:55")
    assert evaluation.outputs == {
        "d": {"before": "-0044-03-14", "year": -44, "later": "2026-01-02T00:00:00.999999999+02:45:55"}
    }
    trace = json.dumps([t.as_dict() for t in evaluation.trace])  # what the audit event keeps
    assert '"before": "-0044-03-14"' in trace and "2026-01-02T00:00:00.999999999+02:45:55" in trace


def test_wide_dates_agree_with_pythons_calendar_shifted_by_whole_cycles() -> None:
    """Every 400 years the calendar repeats: a wide date is a Python date moved by 146,097 days per cycle."""
    import random

    from engine.dmn.feel.temporal import date_from_ordinal, shift

    rng = random.Random(17)
    for _ in range(500):
        day = date.fromordinal(rng.randrange(1, date(9999, 12, 31).toordinal()))
        cycles = rng.choice([-2_499_990, -30, -5, 25, 26, 2_499_970])
        wide = make_date(day.year + 400 * cycles, day.month, day.day)
        assert wide.toordinal() == day.toordinal() + 146_097 * cycles
        assert date_from_ordinal(wide.toordinal()) == wide
        assert (wide.weekday(), wide.timetuple().tm_yday) == (day.weekday(), day.timetuple().tm_yday)
        days = rng.randrange(-100_000, 100_000)
        assert shift(wide, timedelta(days=days)).toordinal() == wide.toordinal() + days
