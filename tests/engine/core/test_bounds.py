"""engine.core.bounds: the one range of integer and date parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.core import bounds
from engine.core.errors import InvalidInput

HUGE = ["9223372036854775807", "99999999999999999999", "1" * 5000]


@pytest.mark.parametrize("raw", [*HUGE, "0", "-1", "-99999999999999999999", "abc", "1e5", "1.0", "", " ", "+"])
def test_a_whole_number_out_of_range_or_not_a_number_is_refused(raw):
    with pytest.raises(ValueError, match="whole number from 1 to 2147483647"):
        bounds.whole(raw)


def test_a_whole_number_in_range_is_taken_with_its_own_bounds():
    assert bounds.whole(" 7 ") == 7
    assert bounds.whole(str(bounds.INT_MAX)) == bounds.INT_MAX
    assert bounds.whole("9223372036854775807", 1, bounds.BIGINT_MAX) == bounds.BIGINT_MAX
    assert bounds.whole("0", 0) == 0


def test_a_parameter_names_itself_in_a_422():
    assert bounds.parameter("page", None, default=1) == 1
    assert bounds.page_number("") == 1
    with pytest.raises(InvalidInput) as refused:
        bounds.page_number("9223372036854775807")
    assert refused.value.details == {"fields": {"page": "must be a whole number from 1 to 2147483647"}}
    assert "page" in refused.value.message


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "10000-01-01", "1899-12-31", "2026-13-45", "soon", ""])
def test_a_day_out_of_range_or_not_a_day_is_refused(raw):
    with pytest.raises(ValueError, match="date"):
        bounds.day(raw)


@pytest.mark.parametrize(
    "raw", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31", "1000-01-01T00:00", "later"]
)
def test_a_moment_out_of_range_is_refused_even_where_the_zone_would_overflow(raw):
    with pytest.raises(ValueError, match="from 1900-01-01 to 9998-12-31|date"):
        bounds.moment(raw)


def test_moments_and_days_in_range():
    assert bounds.day("2026-11-25") == date(2026, 11, 25)
    assert bounds.moment("2026-11-25") == datetime(2026, 11, 25, tzinfo=UTC)
    assert bounds.moment("2026-11-25", end_of_day=True).hour == 23
    assert bounds.moment("2026-11-25T10:00+01:00") == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert bounds.in_range(datetime(9998, 12, 31, 23, tzinfo=UTC)) and not bounds.in_range(date(9999, 1, 1))
